//! The stories under examples/stories/, one dialogue each: checked clean and run to their
//! exact plans.

use assert_cmd::Command;

fn kairos(args: &[&str]) -> super::Output {
    let out =
        Command::cargo_bin("kairos").unwrap().current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap();
    super::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn story(inputs: &[&str], as_of: &str) -> String {
    let check = kairos(&[&["check"], inputs].concat());
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stderr.contains("0 errors, 0 warnings"), "{}", check.stderr);
    let run = kairos(&[&["run", "--as-of", as_of], inputs].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    super::brief(&run.stdout)
}

#[test]
fn the_bank_story_runs_on_events_alone() {
    let d = "examples/stories/bank";
    let plan = story(
        &["-d", &format!("{d}/dialogues"), "-e", &format!("{d}/events.csv"), "-c", &format!("{d}/customers.csv")],
        "2025-04-30",
    );
    // B01's offer is deferred to 09:00 by the send window; the reminder is exactly 7 days after
    // that send, the premier call 3 days later. B02 is not premier: no call. B03 (premier) said
    // yes: an adviser call. B04 said yes: accepted.
    assert_eq!(
        plan,
        "\
B01 address_change_offer#1 offer/0 email:home_insurance_offer 2025-03-04T09:00:00Z planned
B01 address_change_offer#1 offer/1 email:home_insurance_reminder 2025-03-11T09:00:00Z planned
B01 address_change_offer#1 offer/2 phone:premier_adviser_call 2025-03-14T09:00:00Z planned
B02 address_change_offer#1 offer/0 email:home_insurance_offer 2025-03-04T09:00:00Z planned
B02 address_change_offer#1 offer/1 email:home_insurance_reminder 2025-03-11T09:00:00Z planned
B03 address_change_offer#1 offer/0 email:home_insurance_offer 2025-03-04T09:00:00Z planned
B03 address_change_offer#1 book_adviser/0 phone:adviser_appointment 2025-03-07T09:00:00Z planned
B04 address_change_offer#1 offer/0 email:home_insurance_offer 2025-03-05T09:00:00Z planned
"
    );
}

#[test]
fn the_casino_story_measures_tier_credits() {
    let d = "examples/stories/casino";
    let plan = story(
        &[
            "-d",
            &format!("{d}/dialogues"),
            "-t",
            &format!("{d}/transactions.csv"),
            "-c",
            &format!("{d}/customers.csv"),
            "--config",
            &format!("{d}/kairos.yaml"),
        ],
        "2025-05-31",
    );
    // G01: 2250.25 + 2249.75 hotel credits is exactly 4500, and they played in February: invited,
    // then reminded. G02 never played. G03's stay on 03-05 earned Diamond: no reminder.
    assert_eq!(
        plan,
        "\
G01 one_stay_from_diamond#1 invite/0 email:one_stay_from_diamond 2025-04-01T20:00:00Z planned
G01 one_stay_from_diamond#1 invite/1 sms:diamond_reminder 2025-04-08T20:00:00Z planned
G03 one_stay_from_diamond#1 invite/0 email:one_stay_from_diamond 2025-03-01T20:00:00Z planned
"
    );
}
