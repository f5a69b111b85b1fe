//! Whole-customer replays through `Evaluator::run_customer` on tiny in-memory data: purchases
//! and events in, instances, messages, outcomes and trace events out. No binary is spawned.
//!
//! Compact notation as in tests/cli: one line per message
//! `C1 dialogue#1 step/attempt channel:template date status`, one line per instance
//! `C1 dialogue#1 trigger date -> outcome date`.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::trace::{Skip, Trace};
use super::*;
use crate::input::time::{format_utc, parse_as_of, parse_iso};
use crate::input::{InputPaths, InputSpec};
use crate::model::{DAY, YEAR};
use crate::policy::{Cap, OnCap};

pub(crate) const TX_HEADER: &str = "customer_id,timestamp,order_id,product,category,quantity,amount,channel\n";
pub(crate) const EV_HEADER: &str = "customer_id,timestamp,type,dialogue,step,answer,message_id,severity\n";

/// Load tiny inputs through `crate::input::load`, as the CLI would.
///
/// * `tx`: `customer,timestamp,order,product,category,amount[,channel]` (channel defaults to web)
/// * `events`: `customer,timestamp,type[,dialogue,step,answer,message_id,severity]`
/// * `customers`: a whole CSV (header included), or None.
pub(crate) fn load_data(tx: &[&str], events: &[&str], customers: Option<&str>) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let mut body = TX_HEADER.to_owned();
    for l in tx {
        let f: Vec<&str> = l.split(',').collect();
        assert!(f.len() >= 6, "tx line `{l}` needs customer,timestamp,order,product,category,amount");
        let channel = f.get(6).copied().unwrap_or("web");
        body.push_str(&format!("{},{},{},{},{},1,{},{channel}\n", f[0], f[1], f[2], f[3], f[4], f[5]));
    }
    let tx_path = dir.path().join("tx.csv");
    std::fs::write(&tx_path, body).unwrap();
    let events_path = (!events.is_empty()).then(|| {
        let mut body = EV_HEADER.to_owned();
        for l in events {
            let mut f: Vec<&str> = l.split(',').collect();
            f.resize(8, "");
            body.push_str(&f.join(","));
            body.push('\n');
        }
        let p = dir.path().join("events.csv");
        std::fs::write(&p, body).unwrap();
        p
    });
    let customers_path = customers.map(|c| {
        let p = dir.path().join("customers.csv");
        std::fs::write(&p, c).unwrap();
        p
    });
    let spec = InputSpec {
        paths: InputPaths {
            transactions: Some(tx_path),
            customers: customers_path,
            events: events_path,
            catalog: None,
        },
        rename: Default::default(),
        numeric: [vec!["quantity".to_owned(), "amount".to_owned()], Vec::new(), Vec::new(), Vec::new()],
        date_format: None,
        tz: Tz::UTC,
        shard: Default::default(),
    };
    crate::input::load(&spec).unwrap()
}

pub(crate) fn ts(s: &str) -> i64 {
    parse_iso(s, Tz::UTC).unwrap_or_else(|| panic!("bad timestamp {s}"))
}

/// A date when the instant is midnight, else the full UTC time.
fn date(t: i64) -> String {
    let s = format_utc(t);
    s.strip_suffix("T00:00:00Z").map_or(s.clone(), str::to_owned)
}

fn settings(as_of: &str, policy: Policy) -> Settings {
    Settings {
        policy,
        tz: Tz::UTC,
        as_of: parse_as_of(as_of, Tz::UTC).unwrap(),
        horizon: YEAR,
        response_type: "response".to_owned(),
        ledger: None,
    }
}

/// Everything one replay of every customer produced.
struct Replay {
    plan: Plan,
    data: Data,
    settings: Settings,
    results: Vec<CustomerResult>,
    stats: Stats,
    trace: Vec<(i64, Trace)>,
}

fn replay_with(plan: Plan, data: Data, settings: Settings) -> Replay {
    let mut stats = Stats::default();
    let mut trace = Vec::new();
    let mut results = Vec::new();
    {
        let ev = Evaluator::new(&data, &plan, settings.clone());
        let mut scratch = Scratch::default();
        for p in 0..data.people.len() {
            results.push(ev.run_customer(p, &mut scratch, &mut stats, Some(&mut trace)));
        }
    }
    Replay { plan, data, settings, results, stats, trace }
}

fn replay(dialogues: &[(&str, &str)], tx: &[&str], events: &[&str], as_of: &str) -> Replay {
    let data = load_data(tx, events, None);
    replay_with(plan_for(&data, dialogues), data, settings(as_of, Policy::default()))
}

/// Compile dialogues against the columns of `data`, as `kairos run` does. (`test_plan` checks
/// against open schemas, whose column positions only match files with the standard columns in
/// the standard order; conditions on other columns would read the wrong cells.)
pub(crate) fn plan_for(data: &Data, dialogues: &[(&str, &str)]) -> Plan {
    use crate::dialogue::{load, Known, Schemas};
    let schemas = Schemas::of_data(data, &Schemas::open(|_| Vec::new()));
    let dir = tempfile::tempdir().unwrap();
    for (id, body) in dialogues {
        std::fs::write(dir.path().join(format!("{id}.yaml")), body).unwrap();
    }
    let (plan, diags) = load(&[dir.path().to_path_buf()], &schemas, &Known::default());
    assert!(!diags.has_errors(), "{}", diags.0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"));
    plan
}

impl Replay {
    fn customer(&self, r: &CustomerResult) -> &str {
        &self.data.people[r.person].id
    }

    /// `C1 dialogue#1 step/attempt channel:template date status`, suppressed ones with their reason.
    fn messages(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            for m in &r.messages {
                let inst = &r.instances[m.instance];
                let d = &self.plan.dialogues[inst.dialogue];
                let step = &d.steps[m.step];
                let v = &step.ladder[m.attempt].variants[m.variant];
                let st = match &m.suppressed {
                    Some(why) => format!("suppressed({why})"),
                    None => status(m.send_at, self.settings.as_of, self.settings.tz).as_str().to_owned(),
                };
                // As the `policy_note` column: a suppressed message shows only why.
                let note = match (&m.suppressed, &m.note) {
                    (None, Some(n)) => format!(" [{n}]"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "{} {}#{} {}/{} {}:{} {} {st}{note}\n",
                    self.customer(r),
                    d.id,
                    inst.number,
                    step.id,
                    m.attempt,
                    v.channels[m.channel],
                    v.template,
                    date(m.send_at),
                ));
            }
        }
        out
    }

    /// `C1 dialogue#1 trigger date -> outcome date`, `(projected)` for outcomes after as-of.
    fn instances(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            for i in &r.instances {
                let end = match (&i.outcome, i.ended_at) {
                    (Some(o), Some(t)) => format!("{o} {}{}", date(t), if i.projected { " (projected)" } else { "" }),
                    _ => "live".to_owned(),
                };
                out.push_str(&format!(
                    "{} {}#{} {} {} -> {end}\n",
                    self.customer(r),
                    self.plan.dialogues[i.dialogue].id,
                    i.number,
                    i.trigger,
                    date(i.triggered_at),
                ));
            }
        }
        out
    }

    fn reasons(&self) -> Vec<String> {
        self.results.iter().flat_map(|r| r.instances.iter().map(|i| i.reason.clone())).collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.results.iter().flat_map(|r| r.warnings.iter().map(|w| format!("line {}: {}", w.line, w.message))).collect()
    }

    fn d(&self, id: &str) -> usize {
        self.plan.find(id).unwrap()
    }

    /// Why a dialogue did not start, in order.
    fn skips(&self) -> Vec<(String, Skip)> {
        self.trace
            .iter()
            .filter_map(|(t, e)| match e {
                Trace::NotStarted { why, .. } => Some((date(*t), why.clone())),
                _ => None,
            })
            .collect()
    }
}

const THANKS: &str = "steps:\n  - id: thanks\n    send: {channel: email, template: thanks}\n";

#[test]
fn a_threshold_crossing_fires_once_even_when_reentry_allows_more() {
    let d = format!("trigger:\n  threshold: {{measure: spend, reaches: 100}}\nreentry: always\n{THANKS}");
    let r = replay(
        &[("loyal", &d)],
        &["C1,2025-01-01,o1,p,books,60", "C1,2025-01-02,o2,p,books,50", "C1,2025-01-03,o3,p,books,80"],
        &[],
        "2025-01-31",
    );
    assert_eq!(r.messages(), "C1 loyal#1 thanks/0 email:thanks 2025-01-02 planned\n");
    assert_eq!(r.instances(), "C1 loyal#1 threshold 2025-01-02 -> completed 2025-01-02\n");
    assert_eq!(r.reasons(), ["spend reached 110 (threshold 100, was 60)"]);
}

const AWOL: &str =
    "trigger:\n  absence: {after: 30d}\nsteps:\n  - id: miss_you\n    send: {channel: email, template: miss_you}\n";

#[test]
fn a_purchase_at_the_instant_an_absence_timer_is_due_cancels_it() {
    // 2025-01-31 is exactly 30 days after 2025-01-01: the purchase goes first and re-arms.
    let tx = ["C1,2025-01-01,o1,p,books,10", "C1,2025-01-31,o2,p,books,10"];
    let r = replay(&[("awol", AWOL)], &tx, &[], "2025-02-20");
    assert_eq!(r.messages(), "");
    assert!(r.trace.iter().all(|(_, e)| !matches!(e, Trace::AbsenceFired { .. })), "{:?}", r.trace);
    // The re-armed timer fires 30 days after the second purchase.
    let r = replay(&[("awol", AWOL)], &tx, &[], "2025-03-10");
    assert_eq!(r.messages(), "C1 awol#1 miss_you/0 email:miss_you 2025-03-02 planned\n");
    assert_eq!(r.instances(), "C1 awol#1 absence 2025-03-02 -> completed 2025-03-02\n");
    assert_eq!(r.reasons(), ["no purchase for 30 days since 2025-01-31"]);
}

const ASK: &str = "\
trigger:
  purchase: {}
steps:
  - id: ask
    send: {channel: email, template: ask}
    on:
      - {answer: \"yes\", end: agreed}
    timeout: {after: 3d, end: no_reply}
";

#[test]
fn an_answer_at_the_exact_instant_of_a_timeout_wins() {
    let tx = ["C1,2025-01-01,o1,p,books,10"];
    let r = replay(&[("ask", ASK)], &tx, &["C1,2025-01-04,response,ask,ask,YES"], "2025-01-31");
    assert_eq!(r.instances(), "C1 ask#1 purchase 2025-01-01 -> agreed 2025-01-04\n");
    assert_eq!(r.stats.unmatched_responses, 0);
    // One second later the timeout has ended the instance: the answer reaches nobody.
    let r = replay(&[("ask", ASK)], &tx, &["C1,2025-01-04T00:00:01Z,response,ask,ask,yes"], "2025-01-31");
    assert_eq!(r.instances(), "C1 ask#1 purchase 2025-01-01 -> no_reply 2025-01-04\n");
    assert_eq!(r.stats.unmatched_responses, 1);
    assert_eq!(r.stats.branches.get(&(0, BranchAt::Step(0, StepExit::Timeout))), Some(&1));
}

const LADDER: &str = "\
trigger:
  nth_order: {n: 1}
goals:
  - {event: purchase, outcome: converted}
steps:
  - id: nudge
    send: {channel: email, template: first}
    escalate:
      - {after: 7d, channel: email, template: second}
      - {after: 7d, channel: sms, template: third}
    timeout: {after: 7d, end: lapsed}
";

#[test]
fn a_goal_mid_ladder_cancels_the_remaining_reminders() {
    let r = replay(
        &[("ladder", LADDER)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-01-10,o2,p,books,10"],
        &[],
        "2025-03-01",
    );
    assert_eq!(
        r.messages(),
        "\
C1 ladder#1 nudge/0 email:first 2025-01-01 planned
C1 ladder#1 nudge/1 email:second 2025-01-08 planned
"
    );
    assert_eq!(r.instances(), "C1 ladder#1 nth_order 2025-01-01 -> converted 2025-01-10\n");
    assert_eq!(r.stats.branches.get(&(0, BranchAt::Goal(0))), Some(&1));
    // Without the second order the whole ladder goes out and the step times out.
    let r = replay(&[("ladder", LADDER)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-03-01");
    assert_eq!(
        r.messages(),
        "\
C1 ladder#1 nudge/0 email:first 2025-01-01 planned
C1 ladder#1 nudge/1 email:second 2025-01-08 planned
C1 ladder#1 nudge/2 sms:third 2025-01-15 planned
"
    );
    assert_eq!(r.instances(), "C1 ladder#1 nth_order 2025-01-01 -> lapsed 2025-01-22\n");
}

#[test]
fn reentry_after_a_duration_counts_from_the_end_of_the_last_run() {
    let d = format!("trigger:\n  purchase: {{}}\nreentry: 30d\n{THANKS}");
    let r = replay(
        &[("hello", &d)],
        &[
            "C1,2025-01-01,o1,p,books,10",
            "C1,2025-01-15,o2,p,books,10",
            "C1,2025-01-31,o3,p,books,10",
            "C1,2025-02-10,o4,p,books,10",
        ],
        &[],
        "2025-02-28",
    );
    assert_eq!(
        r.instances(),
        "\
C1 hello#1 purchase 2025-01-01 -> completed 2025-01-01
C1 hello#2 purchase 2025-01-31 -> completed 2025-01-31
"
    );
    assert_eq!(
        r.skips(),
        [
            ("2025-01-15".to_owned(), Skip::ReentryNotBefore(ts("2025-01-31"), 30 * DAY)),
            ("2025-02-10".to_owned(), Skip::ReentryNotBefore(ts("2025-03-02"), 30 * DAY)),
        ]
    );
}

#[test]
fn reentry_never_runs_a_dialogue_once() {
    let d = format!("trigger:\n  purchase: {{}}\n{THANKS}");
    let r =
        replay(&[("hello", &d)], &["C1,2025-01-01,o1,p,books,10", "C1,2025-06-01,o2,p,books,10"], &[], "2025-12-31");
    assert_eq!(r.instances(), "C1 hello#1 purchase 2025-01-01 -> completed 2025-01-01\n");
    assert_eq!(r.skips(), [("2025-06-01".to_owned(), Skip::RanOnce)]);
}

const SUPPORT: &str = "\
trigger:
  event: {type: complaint}
steps:
  - id: sorry
    send: {channel: phone, template: sorry}
    on:
      - {answer: resolved, end: resolved}
    timeout: {after: 30d, end: unresolved}
";

const PROMO: &str = "\
trigger:
  purchase: {}
reentry: always
quiet_while: [support]
steps:
  - id: offer
    send: {channel: email, template: offer, delay: 5d}
";

#[test]
fn quiet_while_blocks_starts_and_suppresses_messages_while_the_other_is_live() {
    let r = replay(
        &[("promo", PROMO), ("support", SUPPORT)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-01-10,o2,p,books,10", "C1,2025-02-15,o3,p,books,10"],
        &["C1,2025-01-03,complaint"],
        "2025-03-31",
    );
    assert_eq!(
        r.messages(),
        "\
C1 support#1 sorry/0 phone:sorry 2025-01-03 planned
C1 promo#1 offer/0 email:offer 2025-01-06 suppressed(blocked: quiet while `support` is live)
C1 promo#2 offer/0 email:offer 2025-02-20 planned
"
    );
    assert_eq!(r.skips(), [("2025-01-10".to_owned(), Skip::Quiet(r.d("support")))]);
    assert_eq!(
        r.stats.suppressed.get(&(r.d("promo"), crate::policy::SuppressionKind::Quiet("support".into()))),
        Some(&1)
    );
}

const WIN_BACK: &str = "\
trigger:
  absence: {after: 30d}
goals:
  - {event: purchase, outcome: saved, start: welcome}
steps:
  - id: call
    send: {channel: phone, template: call}
    timeout: {after: 60d, end: lost}
";

const WELCOME: &str = "steps:\n  - id: hi\n    send: {channel: email, template: welcome_back}\n";

/// Two dialogues that end at once and `start:` each other would recurse forever at one
/// instant (the stack overflowed): the chain stops at the follow-on limit, with the skip in
/// the trace, and the replay goes on.
#[test]
fn dialogues_starting_each_other_without_a_wait_stop_at_the_follow_on_limit() {
    let ping = "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: s\n    end: done\n    start: pong\n";
    // (A `when:` that holds: `check` cannot know it does, so only the engine's limit stops
    // the loop; without it `check` reports the cycle.)
    let pong = "reentry: always\nwhen: orders() >= 1\nsteps:\n  - id: s\n    end: done\n    start: ping\n";
    let r = replay(&[("ping", ping), ("pong", pong)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-03-01");
    let limit = 2 * 2 + 16;
    // The purchase starts ping, then `limit` follow-ons one inside the other.
    assert_eq!(r.instances().lines().count(), 1 + limit as usize, "{}", r.instances());
    assert_eq!(r.skips(), [("2025-01-01".to_owned(), Skip::FollowOnLoop(limit))]);
}

#[test]
fn a_goal_with_start_begins_the_follow_on_dialogue_at_once() {
    let r = replay(
        &[("welcome", WELCOME), ("win", WIN_BACK)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-02-10,o2,p,books,10"],
        &[],
        "2025-03-01",
    );
    assert_eq!(
        r.messages(),
        "\
C1 win#1 call/0 phone:call 2025-01-31 planned
C1 welcome#1 hi/0 email:welcome_back 2025-02-10 planned
"
    );
    assert_eq!(
        r.instances(),
        "\
C1 win#1 absence 2025-01-31 -> saved 2025-02-10
C1 welcome#1 follow_on:win:saved 2025-02-10 -> completed 2025-02-10
"
    );
    assert_eq!(r.reasons(), ["no purchase for 30 days since 2025-01-01", "follows `win` ending saved"]);
    // Without the purchase nothing starts the follow-on: the call times out.
    let r = replay(&[("welcome", WELCOME), ("win", WIN_BACK)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-06-01");
    assert_eq!(r.instances(), "C1 win#1 absence 2025-01-31 -> lost 2025-04-01\n");
}

const QUOTED: &str = "\
trigger:
  purchase: {}
reentry: always
steps:
  - id: ask
    send: {channel: email, template: ask}
    on:
      - {answer: \"yes\", end: agreed}
    timeout: {after: 3d, end: no_reply}
";

#[test]
fn an_answer_quoting_a_message_id_reaches_that_run_only() {
    let first = crate::ids::message_id("C1", "ask", 1, "ask", 1, 0);
    let second = crate::ids::message_id("C1", "ask", 2, "ask", 1, 0);
    let tx = ["C1,2025-01-01,o1,p,books,10", "C1,2025-01-10,o2,p,books,10"];
    // Run 1 timed out on 01-04; quoting its message on 01-11 does not answer run 2.
    let gone = format!("C1,2025-01-11,response,,,yes,{first}");
    let r = replay(&[("ask", QUOTED)], &tx, &[&gone], "2025-01-31");
    assert_eq!(
        r.instances(),
        "\
C1 ask#1 purchase 2025-01-01 -> no_reply 2025-01-04
C1 ask#2 purchase 2025-01-10 -> no_reply 2025-01-13
"
    );
    assert_eq!(r.stats.unmatched_responses, 1);
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    // Quoting run 2's message answers it.
    let live = format!("C1,2025-01-11,response,,,yes,{second}");
    let r = replay(&[("ask", QUOTED)], &tx, &[&live], "2025-01-31");
    assert_eq!(
        r.instances(),
        "\
C1 ask#1 purchase 2025-01-01 -> no_reply 2025-01-04
C1 ask#2 purchase 2025-01-10 -> agreed 2025-01-11
"
    );
    assert_eq!(r.stats.unmatched_responses, 0);
    // An id nobody sent is a data warning with the events file's line.
    let r = replay(&[("ask", QUOTED)], &tx, &["C1,2025-01-11,response,,,yes,feedbeef"], "2025-01-31");
    assert_eq!(r.warnings(), ["line 2: response quotes unknown message_id `feedbeef`"]);
    assert_eq!(r.stats.unmatched_responses, 0, "a warned response is not counted as unmatched");
}

#[test]
fn responses_naming_unknown_dialogues_or_steps_are_warnings() {
    let r = replay(
        &[("ask", ASK)],
        &["C1,2025-01-01,o1,p,books,10"],
        &["C1,2025-01-02,response,nope,,yes", "C1,2025-01-02,response,ask,nostep,yes", "C1,2025-01-02,response,,,yes"],
        "2025-01-31",
    );
    let mut w = r.warnings();
    w.sort();
    assert_eq!(
        w,
        [
            "line 2: response names unknown dialogue `nope`",
            "line 3: response names unknown step `nostep` of dialogue `ask`",
            "line 4: response names no dialogue or message_id; it cannot be matched",
        ]
    );
    assert_eq!(r.instances(), "C1 ask#1 purchase 2025-01-01 -> no_reply 2025-01-04\n");
}

#[test]
fn projection_marks_messages_after_as_of_scheduled_and_outcomes_projected() {
    let d = LADDER.replace("nth_order: {n: 1}", "purchase: {}");
    let r = replay(&[("ladder", &d)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-01-08");
    assert_eq!(
        r.messages(),
        "\
C1 ladder#1 nudge/0 email:first 2025-01-01 planned
C1 ladder#1 nudge/1 email:second 2025-01-08 due
C1 ladder#1 nudge/2 sms:third 2025-01-15 scheduled
"
    );
    assert_eq!(r.instances(), "C1 ladder#1 purchase 2025-01-01 -> lapsed 2025-01-22 (projected)\n");
    assert_eq!(r.stats.outcomes.total(), 0, "projected outcomes are not counted: {:?}", r.stats.outcomes);
    // A short horizon stops the projection before the timeout.
    let mut s = settings("2025-01-08", Policy::default());
    s.horizon = 10 * DAY;
    let r = {
        let data = load_data(&["C1,2025-01-01,o1,p,books,10"], &[], None);
        replay_with(plan_for(&data, &[("ladder", &d)]), data, s)
    };
    assert!(r.messages().ends_with("C1 ladder#1 nudge/2 sms:third 2025-01-15 scheduled\n"), "{}", r.messages());
    assert_eq!(r.instances(), "C1 ladder#1 purchase 2025-01-01 -> live\n");
}

#[test]
fn projection_starts_nothing_new() {
    // The absence timer would fire after as-of: projection runs live conversations only.
    let r = replay(&[("awol", AWOL)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-01-20");
    assert_eq!(r.messages(), "");
    assert_eq!(r.instances(), "");
}

#[test]
fn the_order_that_starts_a_dialogue_is_not_its_next_purchase() {
    // o1 has two lines at one instant; the first starts the dialogue, the second is no goal.
    let r = replay(
        &[("ladder", LADDER)],
        &["C1,2025-01-01,o1,p1,books,10", "C1,2025-01-01,o1,p2,books,10", "C1,2025-01-05,o2,p3,books,10"],
        &[],
        "2025-03-01",
    );
    assert_eq!(r.instances(), "C1 ladder#1 nth_order 2025-01-01 -> converted 2025-01-05\n");
    assert_eq!(r.messages(), "C1 ladder#1 nudge/0 email:first 2025-01-01 planned\n");
}

#[test]
fn the_trace_records_typed_events_in_order() {
    let r = replay(
        &[("ask", ASK)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-01-05,o2,p,books,10"],
        &["C1,2025-01-02,response,ask,ask,yes"],
        "2025-01-31",
    );
    let (t1, t2, t5) = (ts("2025-01-01"), ts("2025-01-02"), ts("2025-01-05"));
    assert_eq!(
        r.trace,
        [
            (t1, Trace::Purchase(0)),
            (
                t1,
                Trace::Triggered {
                    dialogue: 0,
                    reason: "purchase of product `p`, category `books`, order `o1`".into()
                }
            ),
            (t1, Trace::Started { dialogue: 0, number: 1 }),
            (
                t1,
                Trace::Message {
                    dialogue: 0,
                    number: 1,
                    step: 0,
                    attempt: 0,
                    variant: 0,
                    channel: 0,
                    tier: None,
                    suppressed: None,
                    note: None
                }
            ),
            (t2, Trace::Event(0)),
            (t2, Trace::Branch { dialogue: 0, number: 1, step: Some(0), label: "answer yes".into() }),
            (t2, Trace::Ended { dialogue: 0, number: 1, outcome: "agreed".into() }),
            (t5, Trace::Purchase(1)),
            (
                t5,
                Trace::Triggered {
                    dialogue: 0,
                    reason: "purchase of product `p`, category `books`, order `o2`".into()
                }
            ),
            (t5, Trace::NotStarted { dialogue: 0, why: Skip::RanOnce }),
        ]
    );
}

#[test]
fn a_response_to_a_finished_run_is_traced_as_unmatched() {
    let r = replay(
        &[("ask", ASK)],
        &["C1,2025-01-01,o1,p,books,10"],
        &["C1,2025-01-20,response,ask,ask,yes"],
        "2025-01-31",
    );
    assert_eq!(r.trace.last(), Some(&(ts("2025-01-20"), Trace::Unmatched)));
    assert_eq!(r.stats.unmatched_responses, 1);
}

/// `number()` of text that is not a finite number ("inf", "abc") is missing, and `min`/`max`
/// of a missing number are missing, so a comparison with them is false (`f64::min` returned
/// the other argument, and "inf" parsed as infinity).
#[test]
fn min_max_and_number_keep_a_missing_number_missing() {
    let d = format!(
        "trigger:\n  purchase: {{}}\nreentry: always\nwhen: min(number(event.product), 100) > 50 or max(number(event.product), 1) > 1000\n{THANKS}"
    );
    let r = replay(
        &[("n", &d)],
        &[
            "C1,2025-01-01,o1,inf,books,10",
            "C1,2025-01-02,o2,abc,books,10",
            "C1,2025-01-03,o3,60,books,10",
            "C1,2025-01-04,o4,infinity,books,10",
            "C1,2025-01-05,o5,2000,books,10",
        ],
        &[],
        "2025-01-31",
    );
    let started: Vec<String> = r.instances().lines().map(|l| l.split(' ').nth(3).unwrap().to_owned()).collect();
    assert_eq!(started, ["2025-01-03", "2025-01-05"], "{}", r.instances());
}

/// Arithmetic in a condition is on the decimals the numbers were read as: 19.99 - 9.99 is 10
/// (in binary floating point 9.999999999999998, and `>= 10` was false).
#[test]
fn condition_arithmetic_is_decimal() {
    let d = format!("trigger:\n  purchase: {{}}\nreentry: always\nwhen: event.amount - 9.99 >= 10 and event.amount * 3 == 59.97\n{THANKS}");
    let r =
        replay(&[("m", &d)], &["C1,2025-01-01,o1,p,books,19.99", "C1,2025-01-02,o2,p,books,19.98"], &[], "2025-01-31");
    assert_eq!(r.instances().lines().count(), 1, "{}", r.instances());
}

/// `one_away` computes its level as a decimal: 100 - 64.1 is 35.9, so a spend of 35.90 is
/// one away (the binary level 35.900000000000006 was not reached).
#[test]
fn one_away_level_is_decimal() {
    let d = format!("trigger:\n  one_away: {{measure: spend, target: 100, away: 64.1}}\n{THANKS}");
    let r = replay(&[("o", &d)], &["C1,2025-01-01,o1,p,books,35.90"], &[], "2025-01-31");
    assert_eq!(r.instances().lines().count(), 1, "{}", r.instances());
}

/// Sums are exact past the i64 range of micro-units: twelve lines just under the per-line
/// limit (10^12) are 1.2e13, and a threshold of 1.1e13 is reached (the i64 sum saturated at
/// 9.2e12, silently).
#[test]
fn spend_sums_do_not_saturate() {
    let d = format!(
        "trigger:\n  threshold: {{measure: spend, reaches: 11000000000000}}\nwhen: spend() > 11900000000000\n{THANKS}"
    );
    let lines: Vec<String> = (1..=12).map(|i| format!("C1,2025-01-{i:02},o{i},p,books,999999999999")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = replay(&[("big", &d)], &lines, &[], "2025-01-31");
    assert_eq!(r.instances().lines().count(), 1, "{}", r.instances());
    assert!(r.instances().contains("2025-01-12"), "{}", r.instances());
}

#[test]
fn answers_match_case_aside_in_any_script() {
    assert!(same_answer("YES", "yes"));
    assert!(same_answer("Été", "été"));
    assert!(same_answer("ΝΑΙ", "ναι"));
    assert!(!same_answer("été", "ete"));
    assert!(!same_answer("yes", "yes "));
}

#[test]
fn when_false_keeps_a_triggered_dialogue_from_starting() {
    let d = format!("trigger:\n  purchase: {{}}\nwhen: spend() >= 100\n{THANKS}");
    let r = replay(&[("big", &d)], &["C1,2025-01-01,o1,p,books,60", "C1,2025-01-02,o2,p,books,50"], &[], "2025-01-31");
    assert_eq!(r.skips(), [("2025-01-01".to_owned(), Skip::WhenFalse)]);
    assert_eq!(r.instances(), "C1 big#1 purchase 2025-01-02 -> completed 2025-01-02\n");
}

/// Spend and units are summed the first time a condition asks, per customer: the next
/// customer replayed with the same scratch gets their own sums, never the last one's (C's
/// two purchases would pass on B's).
#[test]
fn spend_and_units_are_summed_for_each_customer_alone() {
    let d = format!("trigger:\n  purchase: {{}}\nwhen: spend() >= 100 and units() >= 2\nreentry: always\n{THANKS}");
    let r = replay(
        &[("big", &d)],
        &[
            "A,2025-01-01,o1,p,books,60",
            "A,2025-01-02,o2,p,books,50",
            "B,2025-01-05,o3,p,books,150",
            "B,2025-01-06,o4,p,books,1",
            "C,2025-01-07,o5,p,books,20",
            "C,2025-01-08,o6,p,books,20",
        ],
        &[],
        "2025-01-31",
    );
    assert_eq!(
        r.instances(),
        "A big#1 purchase 2025-01-02 -> completed 2025-01-02\nB big#1 purchase 2025-01-06 -> completed 2025-01-06\n"
    );
}

#[test]
fn an_event_trigger_with_where_fires_on_matching_events_only() {
    let d = format!("trigger:\n  event: {{type: complaint, where: severity == \"high\"}}\nreentry: always\n{THANKS}");
    let r = replay(
        &[("care", &d)],
        &["C1,2025-01-01,o1,p,books,10"],
        &["C1,2025-01-02,complaint,,,,,low", "C1,2025-01-03,complaint,,,,,high", "C1,2025-01-04,visit,,,,,high"],
        "2025-01-31",
    );
    assert_eq!(r.instances(), "C1 care#1 event 2025-01-03 -> completed 2025-01-03\n");
    assert_eq!(r.reasons(), ["event `complaint` on 2025-01-03"]);
}

#[test]
fn customers_are_replayed_independently() {
    let d = format!("trigger:\n  threshold: {{measure: orders, reaches: 2}}\n{THANKS}");
    let r = replay(
        &[("second", &d)],
        &["A,2025-01-01,o1,p,books,10", "B,2025-01-01,o2,p,books,10", "A,2025-01-03,o3,p,books,10"],
        &[],
        "2025-01-31",
    );
    assert_eq!(r.messages(), "A second#1 thanks/0 email:thanks 2025-01-03 planned\n");
    assert_eq!(r.results.len(), 2);
    assert_eq!(r.stats.transactions, 3);
}

/// A message a cap holds for later is not sent if the customer ends the conversation before
/// it goes out (a goal); what the ending itself sends (a thank-you for an answer) still goes,
/// held as it is. A dialogue that starts while another's message is held keeps that message
/// from going out when it is quiet while the new one is live.
#[test]
fn what_the_customer_does_before_a_held_message_goes_out_overtakes_it() {
    let news = "trigger:\n  event: {type: visit}\nreentry: always\nsteps:\n  - id: n\n    send: {channel: email, template: news}\n";
    let cart = "trigger:\n  event: {type: cart}\ngoals:\n  - {event: purchase, outcome: bought}\nsteps:\n  - id: nudge\n    send: {channel: email, template: nudge}\n    timeout: {after: 3d, end: lost}\n";
    let ask = "trigger:\n  event: {type: ask_me}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    timeout: {after: 3d, end: no_reply}\n    on:\n      - {answer: yes, goto: thanks}\n  - id: thanks\n    send: {channel: email, template: thanks}\n";
    let promo = "trigger:\n  event: {type: browse}\nquiet_while: [support]\nsteps:\n  - id: offer\n    send: {channel: email, template: offer}\n";
    let support = "trigger:\n  event: {type: complaint}\nsteps:\n  - id: sorry\n    send: {channel: phone, template: sorry}\n    timeout: {after: 3d, end: closed}\n";
    // One that ends as it starts keeps nothing quiet.
    let blip = "trigger:\n  event: {type: ping}\nsteps:\n  - id: hey\n    send: {channel: phone, template: hey}\n";
    let promo2 = "trigger:\n  event: {type: browse2}\nquiet_while: [blip]\nsteps:\n  - id: offer\n    send: {channel: email, template: offer}\n";
    let policy = Policy {
        caps: vec![Cap { max: 1, per: DAY, channel: Some("email".into()) }],
        on_cap: OnCap::Defer,
        ..Policy::default()
    };
    let data = load_data(
        &["C1,2025-01-01T12:00:00Z,o1,p,books,10"],
        &[
            "C1,2025-01-01T08:00:00Z,visit",
            "C1,2025-01-01T09:00:00Z,cart",
            "C2,2025-01-01T08:00:00Z,ask_me",
            "C2,2025-01-01T10:00:00Z,response,ask,ask,yes",
            "C3,2025-01-01T08:00:00Z,visit",
            "C3,2025-01-01T09:00:00Z,browse",
            "C3,2025-01-01T11:00:00Z,complaint",
            "C4,2025-01-01T08:00:00Z,visit",
            "C4,2025-01-01T09:00:00Z,browse2",
            "C4,2025-01-01T11:00:00Z,ping",
        ],
        None,
    );
    let dialogues = [
        ("news", news),
        ("cart", cart),
        ("ask", ask),
        ("promo", promo),
        ("support", support),
        ("blip", blip),
        ("promo2", promo2),
    ];
    let r = replay_with(plan_for(&data, &dialogues), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 news#1 n/0 email:news 2025-01-01T08:00:00Z planned
C1 cart#1 nudge/0 email:nudge 2025-01-02T08:00:00Z suppressed(overtaken: the conversation ended (`bought`) before its send time)
C2 ask#1 ask/0 email:ask 2025-01-01T08:00:00Z planned
C2 ask#1 thanks/0 email:thanks 2025-01-02T08:00:00Z planned [deferred from 2025-01-01T10:00:00Z by cap 1 email per 1d]
C3 news#1 n/0 email:news 2025-01-01T08:00:00Z planned
C3 promo#1 offer/0 email:offer 2025-01-02T08:00:00Z suppressed(blocked: quiet while `support` is live)
C3 support#1 sorry/0 phone:sorry 2025-01-01T11:00:00Z planned
C4 news#1 n/0 email:news 2025-01-01T08:00:00Z planned
C4 promo2#1 offer/0 email:offer 2025-01-02T08:00:00Z planned [deferred from 2025-01-01T09:00:00Z by cap 1 email per 1d]
C4 blip#1 hey/0 phone:hey 2025-01-01T11:00:00Z planned
"
    );
    let cart = r.d("cart");
    assert_eq!(r.stats.messages.get(&(cart, 0, 0)), Some(&0), "the overtaken message no longer counts as planned");
    assert_eq!(r.stats.suppressed.get(&(cart, crate::policy::SuppressionKind::Overtaken)), Some(&1));
    assert_eq!(r.stats.deferred.get(&cart).copied().unwrap_or(0), 0, "nor as deferred");
}

/// What follows a message counts from when it goes out: a step without a wait starts when the
/// message before it goes out, never before (a cap held the email; the sms waited for it). A
/// held message suppressed (an opt-out) lets the conversation go on from then.
#[test]
fn the_next_step_starts_when_the_message_before_it_goes_out() {
    let news = "trigger:\n  event: {type: visit}\nsteps:\n  - id: n\n    send: {channel: email, template: news}\n";
    let seq = "trigger:\n  event: {type: cart}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n  - id: b\n    send: {channel: sms, template: b}\n    wait: 2d\n";
    let policy = Policy {
        caps: vec![Cap { max: 1, per: DAY, channel: Some("email".into()) }],
        on_cap: OnCap::Defer,
        ..Policy::default()
    };
    let data = load_data(
        &["Z,2025-01-20,o1,p,books,10"],
        &[
            "C1,2025-01-01T08:00:00Z,visit",
            "C1,2025-01-01T09:00:00Z,cart",
            "C2,2025-01-01T08:00:00Z,visit",
            "C2,2025-01-01T09:00:00Z,cart",
            "C2,2025-01-01T10:00:00Z,opt_out",
        ],
        None,
    );
    let r = replay_with(plan_for(&data, &[("news", news), ("seq", seq)]), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 news#1 n/0 email:news 2025-01-01T08:00:00Z planned
C1 seq#1 a/0 email:a 2025-01-02T08:00:00Z planned [deferred from 2025-01-01T09:00:00Z by cap 1 email per 1d]
C1 seq#1 b/0 sms:b 2025-01-02T08:00:00Z planned
C2 news#1 n/0 email:news 2025-01-01T08:00:00Z planned
C2 seq#1 a/0 email:a 2025-01-02T08:00:00Z suppressed(no consent for email at send time)
C2 seq#1 b/0 sms:b 2025-01-01T10:00:00Z suppressed(no consent for sms)
"
    );
    // (C2 opted out of everything at 10:00: the sms is due then, and refused.)
    // The wait after the sms counts from it: 2 days after it goes out.
    assert_eq!(
        r.instances(),
        "\
C1 news#1 event 2025-01-01T08:00:00Z -> completed 2025-01-01T08:00:00Z
C1 seq#1 event 2025-01-01T09:00:00Z -> completed 2025-01-04T08:00:00Z
C2 news#1 event 2025-01-01T08:00:00Z -> completed 2025-01-01T08:00:00Z
C2 seq#1 event 2025-01-01T09:00:00Z -> completed 2025-01-03T10:00:00Z
"
    );
}

/// While a message waits for the morning (an email window 09:00-17:00), the conversation
/// waits with it: what the customer does meanwhile reaches the instance, and what follows
/// the message waits for it.
/// - C1: a yes moves the conversation on: the held reminder is overtaken.
/// - C2: a yes before the question went out answers nothing; the one after it does.
/// - C3: a purchase reaches the goal of a one-message dialogue whose message is held.
/// - C4: a follow-on starts when the message of the dialogue before it goes out.
/// - C5: a one-message dialogue keeps its quiet_while in force until its message goes out.
#[test]
fn a_conversation_waits_for_its_held_message() {
    let ask = "trigger:\n  event: {type: ask_me}\nsteps:\n  - id: q1\n    send: {channel: email, template: q}\n    escalate:\n      - {after: 1h, channel: email, template: again}\n    timeout: {after: 3d, end: no_reply}\n    on:\n      - {answer: yes, goto: thanks}\n  - id: thanks\n    send: {channel: email, template: thanks}\n";
    let cart = "trigger:\n  event: {type: cart}\ngoals:\n  - {event: purchase, outcome: bought}\nsteps:\n  - id: nudge\n    send: {channel: email, template: nudge}\n";
    let hand = "trigger:\n  event: {type: hand}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n    next:\n      - {end: handed, start: after}\n";
    let after = "steps:\n  - id: b\n    send: {channel: sms, template: b}\n";
    let recovery =
        "trigger:\n  event: {type: complaint}\nsteps:\n  - id: sorry\n    send: {channel: email, template: sorry}\n";
    let promo = "trigger:\n  event: {type: browse}\nquiet_while: [recovery]\nsteps:\n  - id: offer\n    send: {channel: sms, template: offer}\n";
    let mut windows = BTreeMap::new();
    windows.insert("email".to_owned(), crate::policy::Window { days: [true; 7], from: 9 * 3600, to: 17 * 3600 });
    let policy = Policy { windows, ..Policy::default() };
    let data = load_data(
        &["C3,2025-01-01T22:00:00Z,o1,p,books,10"],
        &[
            "C1,2025-01-01T16:30:00Z,ask_me",
            "C1,2025-01-01T20:00:00Z,response,ask,q1,yes",
            "C2,2025-01-01T08:00:00Z,ask_me",
            "C2,2025-01-01T08:30:00Z,response,ask,,yes",
            "C2,2025-01-01T09:30:00Z,response,ask,,yes",
            "C3,2025-01-01T20:00:00Z,cart",
            "C4,2025-01-01T20:00:00Z,hand",
            "C5,2025-01-01T20:00:00Z,complaint",
            "C5,2025-01-01T22:00:00Z,browse",
        ],
        None,
    );
    let dialogues =
        [("ask", ask), ("cart", cart), ("hand", hand), ("after", after), ("recovery", recovery), ("promo", promo)];
    let r = replay_with(plan_for(&data, &dialogues), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 ask#1 q1/0 email:q 2025-01-01T16:30:00Z planned
C1 ask#1 q1/1 email:again 2025-01-02T09:00:00Z suppressed(overtaken: the conversation moved on (answer yes) before its send time)
C1 ask#1 thanks/0 email:thanks 2025-01-02T09:00:00Z planned [deferred from 2025-01-01T20:00:00Z by send window]
C2 ask#1 q1/0 email:q 2025-01-01T09:00:00Z planned [deferred from 2025-01-01T08:00:00Z by send window]
C2 ask#1 thanks/0 email:thanks 2025-01-01T09:30:00Z planned
C3 cart#1 nudge/0 email:nudge 2025-01-02T09:00:00Z suppressed(overtaken: the conversation ended (`bought`) before its send time)
C4 hand#1 a/0 email:a 2025-01-02T09:00:00Z planned [deferred from 2025-01-01T20:00:00Z by send window]
C4 after#1 b/0 sms:b 2025-01-02T09:00:00Z planned
C5 recovery#1 sorry/0 email:sorry 2025-01-02T09:00:00Z planned [deferred from 2025-01-01T20:00:00Z by send window]
"
    );
    assert_eq!(r.stats.unmatched_responses, 1, "C2's first yes answered nothing");
}

/// A quiet_while dialogue that starts frees the room its quietened message held under the
/// caps before its own message is decided; one that ends as it starts quietens nothing, and
/// the message planned first keeps its room.
#[test]
fn a_quietened_message_gives_up_its_cap_room_first() {
    let promo = "trigger:\n  event: {type: browse}\nquiet_while: [recovery, blip]\nsteps:\n  - id: offer\n    send: {channel: email, template: offer}\n    wait: 1d\n";
    let recovery = "priority: 9\ntrigger:\n  event: {type: complaint}\nsteps:\n  - id: sorry\n    send: {channel: sms, template: sorry}\n    wait: 5d\n";
    let blip = "trigger:\n  event: {type: ping}\nsteps:\n  - id: hey\n    send: {channel: sms, template: hey}\n";
    let mut windows = BTreeMap::new();
    windows.insert("email".to_owned(), crate::policy::Window { days: [true; 7], from: 9 * 3600, to: 17 * 3600 });
    let policy = Policy {
        windows,
        caps: vec![Cap { max: 1, per: DAY, channel: None }],
        on_cap: OnCap::Drop,
        ..Policy::default()
    };
    let data = load_data(
        &["Z,2025-01-20,o1,p,books,10"],
        &[
            "C1,2025-01-01T20:00:00Z,browse",
            "C1,2025-01-02T08:00:00Z,complaint",
            "C2,2025-01-01T20:00:00Z,browse",
            "C2,2025-01-02T08:00:00Z,ping",
        ],
        None,
    );
    let dialogues = [("promo", promo), ("recovery", recovery), ("blip", blip)];
    let r = replay_with(plan_for(&data, &dialogues), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 promo#1 offer/0 email:offer 2025-01-02T09:00:00Z suppressed(blocked: quiet while `recovery` is live)
C1 recovery#1 sorry/0 sms:sorry 2025-01-02T08:00:00Z planned
C2 promo#1 offer/0 email:offer 2025-01-02T09:00:00Z planned [deferred from 2025-01-01T20:00:00Z by send window]
C2 blip#1 hey/0 sms:hey 2025-01-02T08:00:00Z suppressed(dropped: cap 1 per 1d)
"
    );
}

/// A one-message dialogue whose message waits for Monday gives way when it triggers again
/// past its re-entry wait (counted from the hand-over): both announcements go. A response
/// while a step's `delay:` runs answers nothing: its question has not gone out.
#[test]
fn a_finishing_instance_gives_way_and_a_delayed_question_is_not_answered_early() {
    let ann =
        "trigger:\n  event: {type: news}\nreentry: 1d\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n";
    let ask = "trigger:\n  event: {type: ask_me}\nsteps:\n  - id: q\n    send: {channel: sms, template: q, delay: 1d}\n    timeout: {after: 3d, end: no_reply}\n    on:\n      - {answer: yes, end: agreed}\n";
    let mut windows = BTreeMap::new();
    let monday = [true, false, false, false, false, false, false];
    windows.insert("email".to_owned(), crate::policy::Window { days: monday, from: 9 * 3600, to: 17 * 3600 });
    let policy = Policy { windows, ..Policy::default() };
    let data = load_data(
        &["Z,2025-01-20,o1,p,books,10"],
        &[
            // 2025-01-03 is a Friday.
            "C1,2025-01-03T18:00:00Z,news",
            "C1,2025-01-05T10:00:00Z,news",
            "C2,2025-01-03T10:00:00Z,ask_me",
            "C2,2025-01-03T12:00:00Z,response,ask,q,yes",
        ],
        None,
    );
    let r = replay_with(plan_for(&data, &[("ann", ann), ("ask", ask)]), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 ann#1 a/0 email:a 2025-01-06T09:00:00Z planned [deferred from 2025-01-03T18:00:00Z by send window]
C1 ann#2 a/0 email:a 2025-01-06T09:00:00Z planned [deferred from 2025-01-05T10:00:00Z by send window]
C2 ask#1 q/0 sms:q 2025-01-04T10:00:00Z planned
"
    );
    assert_eq!(
        r.instances(),
        "\
C1 ann#1 event 2025-01-03T18:00:00Z -> completed 2025-01-05T10:00:00Z
C1 ann#2 event 2025-01-05T10:00:00Z -> completed 2025-01-06T09:00:00Z
C2 ask#1 event 2025-01-03T10:00:00Z -> no_reply 2025-01-07T10:00:00Z
"
    );
    assert_eq!(r.stats.unmatched_responses, 1);
}

#[test]
fn an_opt_out_suppresses_a_message_deferred_past_it() {
    // A 1-per-day cap defers the second message to 01-02; the opt-out at 01-01T12:00 reaches it.
    let d = "\
trigger:
  purchase: {}
reentry: always
steps:
  - id: hi
    send: {channel: email, template: hi}
";
    let policy =
        Policy { caps: vec![Cap { max: 1, per: DAY, channel: None }], on_cap: OnCap::Defer, ..Policy::default() };
    let data = load_data(
        &["C1,2025-01-01T08:00:00Z,o1,p,books,10", "C1,2025-01-01T09:00:00Z,o2,p,books,10"],
        &["C1,2025-01-01T12:00:00Z,opt_out"],
        None,
    );
    let r = replay_with(plan_for(&data, &[("hi", d)]), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 hi#1 hi/0 email:hi 2025-01-01T08:00:00Z planned
C1 hi#2 hi/0 email:hi 2025-01-02T08:00:00Z suppressed(no consent for email at send time)
"
    );
    assert_eq!(r.stats.messages.get(&(0, 0, 0)), Some(&1), "the withdrawn message no longer counts as planned");
    assert_eq!(r.stats.deferred.get(&0), Some(&0), "nor as deferred (sent later)");
    assert_eq!(
        r.stats.sent.iter().map(|(_, n)| n).sum::<u64>(),
        1,
        "the withdrawn message no longer counts by day either"
    );
}

#[test]
fn profile_columns_feed_the_policy_do_not_contact_and_preferred_channel() {
    let d = "trigger:\n  purchase: {}\nsteps:\n  - id: hi\n    send: {channel: [email, sms], template: hi}\n";
    let data = load_data(
        &["C1,2025-01-01,o1,p,books,10", "C2,2025-01-01,o2,p,books,10", "C3,2025-01-01,o3,p,books,10"],
        &[],
        Some("customer_id,dnc,pref\nC1,yes,\nC2,,sms\nC3,no,\n"),
    );
    let policy =
        Policy { do_not_contact: Some("dnc".into()), preferred_column: Some("pref".into()), ..Policy::default() };
    let r = replay_with(plan_for(&data, &[("hi", d)]), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 hi#1 hi/0 email:hi 2025-01-01 suppressed(do not contact)
C2 hi#1 hi/0 sms:hi 2025-01-01 planned
C3 hi#1 hi/0 email:hi 2025-01-01 planned
"
    );
}

#[test]
fn a_computed_tier_picks_the_tier_variant_at_send_time() {
    let d = "\
trigger:
  purchase: {}
reentry: always
steps:
  - id: hi
    send:
      channel: email
      template: hi
      by_tier:
        gold: {channel: phone, template: hi_gold}
";
    let policy = Policy {
        tiers: Some(crate::policy::Tiers::Computed {
            measure: crate::model::Measure::Spend,
            within: None,
            levels: vec![("gold".into(), 100.0), ("base".into(), 0.0)],
        }),
        ..Policy::default()
    };
    let data = load_data(&["C1,2025-01-01,o1,p,books,60", "C1,2025-01-02,o2,p,books,60"], &[], None);
    let r = replay_with(plan_for(&data, &[("hi", d)]), data, settings("2025-01-31", policy));
    assert_eq!(
        r.messages(),
        "\
C1 hi#1 hi/0 email:hi 2025-01-01 planned
C1 hi#2 hi/0 phone:hi_gold 2025-01-02 planned
"
    );
    let tiers: Vec<Option<String>> = r
        .trace
        .iter()
        .filter_map(|(_, e)| match e {
            Trace::Message { tier, .. } => Some(tier.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tiers, [Some("base".to_owned()), Some("gold".to_owned())]);
}

#[test]
fn a_new_category_whose_first_purchase_fails_where_is_still_bought() {
    let d = format!("trigger:\n  new_category: {{where: amount > 20}}\nreentry: always\n{THANKS}");
    let r = replay(
        &[("explore", &d)],
        &[
            "C1,2025-01-01,o1,p1,books,10",
            "C1,2025-01-02,o2,p2,toys,10",
            "C1,2025-01-03,o3,p3,toys,30",
            "C1,2025-01-04,o4,p4,garden,30",
        ],
        &[],
        "2025-01-31",
    );
    assert_eq!(r.instances(), "C1 explore#1 new_category 2025-01-04 -> completed 2025-01-04\n");
    assert_eq!(
        r.reasons(),
        ["first purchase in category `garden` (purchase of product `p4`, category `garden`, order `o4`)"]
    );
}

const WELCOME_GOAL: &str = "\
goals:
  - {event: purchase, outcome: bought_again}
steps:
  - id: hi
    send: {channel: email, template: welcome_back}
    timeout: {after: 30d, end: quiet}
";

#[test]
fn a_follow_on_started_by_a_one_line_order_waits_for_the_next_order() {
    let r = replay(
        &[("welcome", WELCOME_GOAL), ("win", WIN_BACK)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-02-10,o2,p1,books,10"],
        &[],
        "2025-06-01",
    );
    assert_eq!(
        r.instances(),
        "\
C1 win#1 absence 2025-01-31 -> saved 2025-02-10
C1 welcome#1 follow_on:win:saved 2025-02-10 -> quiet 2025-03-12
"
    );
}

#[test]
fn a_follow_on_started_by_a_purchase_is_not_ended_by_the_rest_of_that_order() {
    // The same as above with a second line in o2: the outcome should not change.
    let r = replay(
        &[("welcome", WELCOME_GOAL), ("win", WIN_BACK)],
        &["C1,2025-01-01,o1,p,books,10", "C1,2025-02-10,o2,p1,books,10", "C1,2025-02-10,o2,p2,books,10"],
        &[],
        "2025-06-01",
    );
    // Today: `welcome#1 ... -> bought_again 2025-02-10`, ended by line p2 of o2.
    assert_eq!(
        r.instances(),
        "\
C1 win#1 absence 2025-01-31 -> saved 2025-02-10
C1 welcome#1 follow_on:win:saved 2025-02-10 -> quiet 2025-03-12
"
    );
}

#[test]
fn at_one_instant_conversation_timers_go_before_absence_timers() {
    // `talk` times out at the instant `awol` fires: `talk` ends first, so `awol` is not quiet.
    let talk = "\
trigger:
  nth_order: {n: 1}
steps:
  - id: ask
    send: {channel: email, template: ask}
    on:
      - {answer: x, end: answered}
    timeout: {after: 30d, end: no_reply}
";
    let awol = AWOL.replace("steps:", "quiet_while: [talk]\nsteps:");
    let r = replay(&[("awol", &awol), ("talk", talk)], &["C1,2025-01-01,o1,p,books,10"], &[], "2025-02-28");
    assert_eq!(
        r.instances(),
        "\
C1 talk#1 nth_order 2025-01-01 -> no_reply 2025-01-31
C1 awol#1 absence 2025-01-31 -> completed 2025-01-31
"
    );
}

#[test]
fn at_one_instant_higher_priority_dialogues_go_first() {
    let tx = ["C1,2025-01-01,o1,p,books,10"];
    let r = replay(&[("a", AWOL), ("b", AWOL)], &tx, &[], "2025-02-28");
    assert_eq!(
        r.messages(),
        "\
C1 a#1 miss_you/0 email:miss_you 2025-01-31 planned
C1 b#1 miss_you/0 email:miss_you 2025-01-31 planned
"
    );
    let b = format!("priority: 5\n{AWOL}");
    let r = replay(&[("a", AWOL), ("b", &b)], &tx, &[], "2025-02-28");
    assert_eq!(
        r.messages(),
        "\
C1 b#1 miss_you/0 email:miss_you 2025-01-31 planned
C1 a#1 miss_you/0 email:miss_you 2025-01-31 planned
"
    );
}

#[test]
#[ignore = "bug: an opt-out suppresses deferred messages for good (Run::withdraw); an opt-in before their send time does not restore them, so the note `no consent for email at send time` is false"]
fn an_opt_in_before_the_deferred_send_time_keeps_the_message() {
    let d = "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n";
    let policy =
        Policy { caps: vec![Cap { max: 1, per: DAY, channel: None }], on_cap: OnCap::Defer, ..Policy::default() };
    let data = load_data(
        &["C1,2025-01-01T08:00:00Z,o1,p,books,10", "C1,2025-01-01T09:00:00Z,o2,p,books,10"],
        &["C1,2025-01-01T12:00:00Z,opt_out", "C1,2025-01-01T13:00:00Z,opt_in"],
        None,
    );
    let r = replay_with(plan_for(&data, &[("hi", d)]), data, settings("2025-01-31", policy));
    // Today the second line reads `... suppressed(no consent for email at send time)`, although
    // the customer consents again from 01-01T13:00, before 01-02T08:00.
    assert_eq!(
        r.messages(),
        "\
C1 hi#1 hi/0 email:hi 2025-01-01T08:00:00Z planned
C1 hi#2 hi/0 email:hi 2025-01-02T08:00:00Z planned [deferred from 2025-01-01T09:00:00Z by cap 1 per 1d]
"
    );
}

const ASK_SIZE: &str = "\
trigger:
  nth_order: {n: 1}
steps:
  - id: ask
    send: {channel: email, template: which_size}
    on:
      - {answer: small, remember: {size: '\"S\"', answered: event.severity}, end: told}
      - {answer: medium, remember: {size: '\"M\"'}, end: told}
    timeout: {after: 30d, end: no_reply}
";

const SIZE_M_OFFER: &str = "\
trigger:
  purchase: {}
when: 'fact.size == \"M\"'
reentry: always
steps:
  - id: offer
    send: {channel: email, template: medium_offer}
";

#[test]
fn a_remembered_answer_is_read_by_another_dialogue_from_its_instant() {
    let tx = [
        "C1,2025-01-01,o1,p,books,10",
        // Before the answer: no fact yet, no offer.
        "C1,2025-01-03,o2,p,books,10",
        // After it: the other dialogue sees fact.size.
        "C1,2025-01-10,o3,p,books,10",
    ];
    let r = replay(
        &[("ask_size", ASK_SIZE), ("size_m_offer", SIZE_M_OFFER)],
        &tx,
        &["C1,2025-01-05,response,ask_size,ask,medium"],
        "2025-01-31",
    );
    assert_eq!(r.plan.facts, vec!["answered", "size"]);
    assert_eq!(
        r.messages(),
        "\
C1 ask_size#1 ask/0 email:which_size 2025-01-01 planned
C1 size_m_offer#1 offer/0 email:medium_offer 2025-01-10 planned
"
    );
    let res = &r.results[0];
    assert_eq!(res.facts, vec![(ts("2025-01-05"), 1, "M".into())]);
    assert_eq!(res.facts_at(ts("2025-01-04")), vec![]);
    assert_eq!(res.facts_at(ts("2025-01-06")), vec![(1, "M")]);
    assert!(r
        .trace
        .iter()
        .any(|(_, t)| matches!(t, Trace::Remembered { name, value } if name == "size" && value == "M")));
}

#[test]
fn an_empty_answer_value_does_not_erase_a_fact() {
    let r = replay(
        &[("ask_size", ASK_SIZE)],
        &["C1,2025-01-01,o1,p,books,10"],
        // `answered: severity` reads an empty cell: nothing is remembered for it.
        &["C1,2025-01-05,response,ask_size,ask,small"],
        "2025-01-31",
    );
    assert_eq!(r.results[0].facts, vec![(ts("2025-01-05"), 1, "S".into())]);
}

#[test]
fn reach_counts_goals_by_holdout_group_and_whether_a_message_had_gone_out() {
    // The message waits 2 days: A buys again before it (unprompted), B after it, C never.
    let d = "\
trigger:
  purchase: {}
reentry: never
holdout: 0.5
goals:
  - {event: purchase, outcome: bought}
steps:
  - id: hi
    send: {channel: email, template: hi, delay: 2d}
    wait: 10d
    end: lapsed
";
    let ids = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let held = |id: &str| crate::ids::unit_interval(id, "g") < 0.5;
    let mut tx = Vec::new();
    for id in ids {
        tx.push(format!("{id},2025-01-01,{id}1,p,books,10"));
    }
    // A and E buy again the next day, B and F after the message, the rest never.
    for (id, day) in [("A", "02"), ("E", "02"), ("B", "05"), ("F", "05")] {
        tx.push(format!("{id},2025-01-{day},{id}2,p,books,10"));
    }
    let tx: Vec<&str> = tx.iter().map(String::as_str).collect();
    let r = replay(&[("g", d)], &tx, &[], "2025-01-31");
    assert!(ids.iter().any(|i| held(i)) && ids.iter().any(|i| !held(i)), "both groups are represented");
    let mut want: BTreeMap<bool, Reach> = BTreeMap::new();
    for id in ids {
        let w = want.entry(held(id)).or_default();
        w.entered += 1;
        w.concluded += 1;
        if ["A", "E", "B", "F"].contains(&id) {
            w.goal += 1;
            // Held out, no message ever goes out: every goal is unprompted.
            if ["A", "E"].contains(&id) || held(id) {
                w.goal_unprompted += 1;
            }
        }
    }
    let got: BTreeMap<bool, Reach> = r.stats.reach.iter().map(|((_, h), v)| (*h, *v)).collect();
    assert_eq!(got, want);
    let bought: u64 = r.stats.outcomes.of(0).iter().filter(|(o, _)| *o == "bought").map(|(_, [t, h])| t + h).sum();
    assert_eq!(bought, 4);
    // Messages that go out, by day: the treated customers' only (held-out ones are suppressed).
    let treated_msgs = ["C", "D", "G", "H", "B", "F"].iter().filter(|i| !held(i)).count() as u64;
    assert_eq!(r.stats.sent.iter().map(|(_, n)| n).sum::<u64>(), treated_msgs);
    assert!(r.stats.sent.iter().all(|(k, _)| k.day == crate::input::time::local_day(ts("2025-01-03"), Tz::UTC)));
}

const BANK: &str = r#"
trigger:
  purchase: {}
steps:
  - id: offer
    send: {channel: email, template: offer}
    escalate:
      - {after: 7d, channel: email, template: reminder}
      - {after: 3d, channel: phone, template: call, when: 'customer.segment == "premier"'}
    timeout: {after: 14d, end: no_answer}
    on:
      - {answer: yes, when: 'customer.segment == "premier"', goto: welcome}
      - {answer: yes, end: accepted}
  - id: welcome
    send: {channel: phone, template: welcome_call}
"#;

fn bank(events: &[&str]) -> Replay {
    let data = load_data(
        &["P,2025-01-01,o1,p,c,10", "S,2025-01-01,o2,p,c,10"],
        events,
        Some("customer_id,segment\nP,premier\nS,standard\n"),
    );
    replay_with(plan_for(&data, &[("bank", BANK)]), data, settings("2025-03-01", Policy::default()))
}

#[test]
fn a_rung_whose_when_is_false_is_skipped_and_the_ladder_goes_on() {
    let r = bank(&[]);
    assert_eq!(
        r.messages(),
        "\
P bank#1 offer/0 email:offer 2025-01-01 planned
P bank#1 offer/1 email:reminder 2025-01-08 planned
P bank#1 offer/2 phone:call 2025-01-11 planned
S bank#1 offer/0 email:offer 2025-01-01 planned
S bank#1 offer/1 email:reminder 2025-01-08 planned
"
    );
    // The skipped rung still takes its place in time: the timeout counts from when it was due.
    assert_eq!(
        r.instances(),
        "\
P bank#1 purchase 2025-01-01 -> no_answer 2025-01-25
S bank#1 purchase 2025-01-01 -> no_answer 2025-01-25
"
    );
    let skipped: Vec<(String, usize)> = r
        .trace
        .iter()
        .filter_map(|(t, e)| match e {
            Trace::Skipped { attempt, .. } => Some((date(*t), *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, vec![("2025-01-11".to_owned(), 2)]);
}

#[test]
fn a_branch_is_taken_only_when_its_when_holds_too() {
    let r = bank(&["P,2025-01-03,response,bank,offer,yes", "S,2025-01-03,response,bank,offer,yes"]);
    assert_eq!(
        r.messages(),
        "\
P bank#1 offer/0 email:offer 2025-01-01 planned
P bank#1 welcome/0 phone:welcome_call 2025-01-03 planned
S bank#1 offer/0 email:offer 2025-01-01 planned
"
    );
    assert_eq!(
        r.instances(),
        "\
P bank#1 purchase 2025-01-01 -> completed 2025-01-03
S bank#1 purchase 2025-01-01 -> accepted 2025-01-03
"
    );
}

#[test]
fn a_reminder_counts_from_the_deferred_send_of_the_message_it_follows() {
    // `first` takes the day's one message; `second`'s message is deferred a day by the cap,
    // and its reminder comes 7 days after that real send, not after the step began.
    let first = "priority: 2\ntrigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n";
    let second = "\
priority: 1
trigger:
  purchase: {}
steps:
  - id: b
    send: {channel: email, template: b}
    escalate:
      - {after: 7d, channel: email, template: b_reminder}
    timeout: {after: 2d, end: no_answer}
    on:
      - {answer: yes, end: yes}
";
    let policy =
        Policy { caps: vec![Cap { max: 1, per: DAY, channel: None }], on_cap: OnCap::Defer, ..Policy::default() };
    let data = load_data(&["C1,2025-01-01T08:00:00Z,o1,p,c,10"], &[], None);
    let r = replay_with(plan_for(&data, &[("first", first), ("second", second)]), data, settings("2025-02-01", policy));
    assert_eq!(
        r.messages(),
        "\
C1 first#1 a/0 email:a 2025-01-01T08:00:00Z planned
C1 second#1 b/0 email:b 2025-01-02T08:00:00Z planned [deferred from 2025-01-01T08:00:00Z by cap 1 per 1d]
C1 second#1 b/1 email:b_reminder 2025-01-09T08:00:00Z planned
"
    );
    assert_eq!(
        r.instances(),
        "\
C1 first#1 purchase 2025-01-01T08:00:00Z -> completed 2025-01-01T08:00:00Z
C1 second#1 purchase 2025-01-01T08:00:00Z -> no_answer 2025-01-11T08:00:00Z
"
    );
}

/// A casino's transactions: `customer,timestamp,order,game,category,tier_credits,amount`, with
/// `tier_credits` declared a number.
fn casino_data(lines: &[&str]) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let mut body = "customer_id,timestamp,order_id,product,category,tier_credits,amount\n".to_owned();
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    let tx = dir.path().join("tx.csv");
    std::fs::write(&tx, body).unwrap();
    let spec = InputSpec {
        paths: InputPaths { transactions: Some(tx), customers: None, events: None, catalog: None },
        rename: Default::default(),
        numeric: [vec!["amount".to_owned(), "tier_credits".to_owned()], Vec::new(), Vec::new(), Vec::new()],
        date_format: None,
        tz: Tz::UTC,
        shard: Default::default(),
    };
    crate::input::load(&spec).unwrap()
}

#[test]
fn a_numeric_column_is_a_measure_summed_exactly_in_windows_and_filters() {
    // 0.07 falls out of the 30-day window; 333.33 + 333.33 + 333.34 is exactly 1000 (floating
    // point prefix sums would make it 999.99999...).
    let data = casino_data(&[
        "C1,2025-01-01,o1,stay,hotel,0.07,10",
        "C1,2025-03-01,o2,stay,hotel,333.33,10",
        "C1,2025-03-02,o3,slots,gaming,333.33,10",
        "C1,2025-03-03,o4,stay,hotel,333.34,10",
        "C1,2025-03-03,o4,dinner,food,,10",
    ]);
    let diamond = "trigger:\n  threshold: {measure: tier_credits, reaches: 1000, within: 30d}\nsteps:\n  - id: hi\n    send: {channel: email, template: diamond}\n";
    let one_away = "trigger:\n  one_away: {measure: tier_credits, target: 1000, away: 400, where: category == \"hotel\"}\nwhen: sum(tier_credits, 365d, category == \"gaming\") > 0 and sum(tier_credits) > 666\nsteps:\n  - id: hi\n    send: {channel: email, template: one_stay_away}\n";
    let plan = plan_for(&data, &[("diamond", diamond), ("one_away", one_away)]);
    let r = replay_with(plan, data, settings("2025-04-01", Policy::default()));
    // Hotel credits reach 666.67 (0.07 + 333.33 + 333.34) only on 03-03: the gaming credits
    // of 03-02 do not count for the filtered one_away.
    assert_eq!(
        r.messages(),
        "\
C1 diamond#1 hi/0 email:diamond 2025-03-03 planned
C1 one_away#1 hi/0 email:one_stay_away 2025-03-03 planned
"
    );
    assert_eq!(
        r.reasons(),
        [
            "tier_credits reached 1000 (threshold 1000, was 666.66)",
            "tier_credits reached 666.74 (333.26 away from 1000)"
        ]
    );
}

#[test]
fn a_next_choice_at_once_reads_the_facts_its_step_remembered_on_entry() {
    let d = r#"
trigger:
  purchase: {}
steps:
  - id: note
    remember: {seg_then: customer.segment}
    send: {channel: email, template: hello}
    next:
      - {when: 'fact.seg_then == "premier"', goto: call}
      - {end: emailed}
  - id: call
    send: {channel: phone, template: call}
"#;
    let data = load_data(
        &["P,2025-01-01,o1,p,c,10", "S,2025-01-01,o2,p,c,10"],
        &[],
        Some("customer_id,segment\nP,premier\nS,standard\n"),
    );
    let r = replay_with(plan_for(&data, &[("d", d)]), data, settings("2025-01-31", Policy::default()));
    assert_eq!(
        r.messages(),
        "\
P d#1 note/0 email:hello 2025-01-01 planned
P d#1 call/0 phone:call 2025-01-01 planned
S d#1 note/0 email:hello 2025-01-01 planned
"
    );
    let branches: Vec<&str> = r
        .trace
        .iter()
        .filter_map(|(_, e)| match e {
            Trace::Branch { label, .. } => Some(label.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(branches, ["next if fact.seg_then == \"premier\""]);
}

// Announcements: a catalogue feed meets each customer. Every case is replayed twice, from the
// index (no trace) and by testing every row (with a trace, as `explain` does): both must give
// the same plan.

const BOOK_TX: &str = "customer_id,timestamp,order_id,product,category,author,quantity,amount\n";
const BOOK_CUSTOMERS: &str = "customer_id,name,email,fav,favs\n";
const BOOK_CATALOG: &str = "item_id,timestamp,type,title,author,price,old_price\n";
const BOOK_EVENTS: &str = "customer_id,timestamp,type,channel,column,value\n";

/// Whole CSV bodies after the headers above (rows joined with `\n`).
fn load_books(tx: &[&str], customers: &[&str], events: &[&str], catalog: &[&str]) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, header: &str, rows: &[&str]| {
        let p = dir.path().join(name);
        let mut body = header.to_owned();
        for r in rows {
            body.push_str(r);
            body.push('\n');
        }
        std::fs::write(&p, body).unwrap();
        p
    };
    let spec = InputSpec {
        paths: InputPaths {
            transactions: Some(write("tx.csv", BOOK_TX, tx)),
            customers: Some(write("customers.csv", BOOK_CUSTOMERS, customers)),
            events: (!events.is_empty()).then(|| write("events.csv", BOOK_EVENTS, events)),
            catalog: Some(write("catalog.csv", BOOK_CATALOG, catalog)),
        },
        rename: Default::default(),
        numeric: [
            vec!["quantity".to_owned(), "amount".to_owned()],
            Vec::new(),
            Vec::new(),
            vec!["price".to_owned(), "old_price".to_owned()],
        ],
        date_format: None,
        tz: Tz::UTC,
        shard: Default::default(),
    };
    crate::input::load(&spec).unwrap()
}

/// Replay from the index and by scanning; assert both plans agree; return the traced one.
fn announce(dialogues: &[(&str, &str)], data: Data, policy: Policy, as_of: &str) -> Replay {
    let plan = plan_for(&data, dialogues);
    let s = settings(as_of, policy);
    let indexed = {
        let ev = Evaluator::new(&data, &plan, s.clone());
        let mut scratch = Scratch::default();
        let mut stats = Stats::default();
        (0..data.people.len()).map(|p| ev.run_customer(p, &mut scratch, &mut stats, None)).collect::<Vec<_>>()
    };
    let scanned = replay_with(plan, data, s);
    let show = |rs: &[CustomerResult]| {
        rs.iter()
            .flat_map(|r| {
                r.messages.iter().map(move |m| (r.person, m.instance, m.step, m.send_at, m.suppressed.clone()))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&indexed), show(&scanned.results), "the index and the scan disagree");
    scanned
}

/// One `new_title` dialogue with this announcement trigger over the standard customers,
/// purchases and arrivals, as of 2025-06-30.
fn on_the_shelf(trigger: &str) -> Replay {
    let data = load_books(BOOK_PURCHASES, CUSTOMERS, &[], ARRIVALS);
    announce(&[("new_title", &tell(trigger))], data, Policy::default(), "2025-06-30")
}

fn tell(trigger: &str) -> String {
    format!("trigger:\n  announcement: {trigger}\nsteps:\n  - id: tell\n    send: {{channel: email, template: new_title}}\n")
}

/// Which (customer, item) each announcement went to.
fn items(r: &Replay) -> Vec<String> {
    let cat = r.data.catalog.as_ref().unwrap();
    let mut out = Vec::new();
    for res in &r.results {
        for m in &res.messages {
            let inst = &res.instances[m.instance];
            let Some(EventRef::Item(row)) = inst.event else { continue };
            let st = if m.suppressed.is_some() { " suppressed" } else { "" };
            out.push(format!("{} {} {}{st}", r.customer(res), cat.customer_id(row), date(m.send_at)));
        }
    }
    out
}

const CUSTOMERS: &[&str] = &[
    "A,Ann,a@x,Michael Chabon,Michael Chabon|Zadie Smith",
    "B,Ben,b@x,zadie smith,",
    "C,Cy,c@x,,Ted Chiang",
    // Never bought anything: an announcement needs no history.
    "D,Di,d@x,Ted Chiang,",
];
const ARRIVALS: &[&str] = &[
    "I1,2025-03-01,arrival,Moonglow 2,Michael Chabon,20,",
    "I2,2025-04-01,arrival,Swing Time 2,Zadie Smith,18,",
    "I3,2025-05-01,arrival,Exhalation 2,Ted Chiang,25,",
    "I4,2025-05-01,markdown,Moonglow,Michael Chabon,9,15",
    // After as-of: not news yet.
    "I5,2025-07-01,arrival,Telegraph Avenue 2,Michael Chabon,22,",
];
const BOOK_PURCHASES: &[&str] =
    &["A,2024-06-01,o1,Moonglow,books,Michael Chabon,1,15", "B,2024-06-02,o2,NW,books,Zadie Smith,1,12"];

#[test]
fn a_stated_favourite_hears_of_each_new_title_from_its_day_and_nothing_after_as_of() {
    let r = on_the_shelf("{type: arrival, match: 'item.author == customer.fav'}");
    assert_eq!(items(&r), ["A I1 2025-03-01", "D I3 2025-05-01"]);
    assert_eq!(
        r.reasons(),
        [
            "arrival of item `I1` matching item.author == customer.fav",
            "arrival of item `I3` matching item.author == customer.fav"
        ]
    );
}

#[test]
fn lower_on_both_sides_matches_whatever_the_case() {
    let r = on_the_shelf("{type: arrival, match: 'lower(item.author) == lower(customer.fav)'}");
    assert_eq!(items(&r), ["A I1 2025-03-01", "B I2 2025-04-01", "D I3 2025-05-01"]);
}

#[test]
fn a_customer_list_of_favourites_is_looked_up_item_by_item() {
    let r = on_the_shelf("{type: arrival, match: 'item.author in customer.favs'}");
    assert_eq!(items(&r), ["A I1 2025-03-01", "A I2 2025-04-01", "C I3 2025-05-01"]);
}

#[test]
fn a_revealed_preference_reads_the_history_at_the_rows_instant() {
    let tx = [
        "A,2024-06-01,o1,Moonglow,books,Michael Chabon,1,15",
        "A,2025-02-01,o2,Wonder Boys,books,Michael Chabon,1,11",
        "B,2024-06-02,o3,NW,books,Zadie Smith,1,12",
        "B,2025-04-01,o4,On Beauty,books,Zadie Smith,1,12",
    ];
    let data = load_books(&tx, CUSTOMERS, &[], ARRIVALS);
    let r = announce(
        &[("read_twice", &tell("{type: arrival, match: 'purchases(730d, author == item.author) >= 2'}"))],
        data,
        Policy::default(),
        "2025-06-30",
    );
    // B's second Zadie Smith is bought at the arrival's instant: the customer's own rows at an
    // instant come first, so it counts.
    assert_eq!(items(&r), ["A I1 2025-03-01", "B I2 2025-04-01"]);
}

#[test]
fn the_residual_and_where_are_tested_only_where_the_key_matched() {
    let data = load_books(BOOK_PURCHASES, CUSTOMERS, &[], ARRIVALS);
    let r = announce(
        &[(
            "markdown",
            &tell("{type: markdown, match: 'item.author == customer.fav and item.price < item.old_price', where: 'purchases(730d, product == item.title) == 0'}"),
        )],
        data,
        Policy::default(),
        "2025-06-30",
    );
    // A bought Moonglow already: the markdown is not for them.
    assert_eq!(items(&r), Vec::<String>::new());
    let data = load_books(&[], CUSTOMERS, &[], ARRIVALS);
    let r = announce(
        &[(
            "markdown",
            &tell("{type: markdown, match: 'item.author == customer.fav and item.price < item.old_price'}"),
        )],
        data,
        Policy::default(),
        "2025-06-30",
    );
    assert_eq!(items(&r), ["A I4 2025-05-01"]);
}

#[test]
fn a_profile_update_changes_the_key_from_its_instant() {
    let events = ["C,2025-03-15,profile_update,,fav,Zadie Smith", "A,2025-03-01,profile_update,,fav,Ted Chiang"];
    let data = load_books(BOOK_PURCHASES, CUSTOMERS, &events, ARRIVALS);
    let r = announce(
        &[("new_title", &tell("{type: arrival, match: 'item.author == customer.fav'}"))],
        data,
        Policy::default(),
        "2025-06-30",
    );
    // A's update lands at I1's instant, before it (own events first): A now wants Ted Chiang.
    assert_eq!(items(&r), ["A I3 2025-05-01", "C I2 2025-04-01", "D I3 2025-05-01"]);
}

#[test]
fn a_remembered_answer_is_a_key_too() {
    let ask = "trigger:\n  nth_order: {n: 1}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    on:\n      - {event: survey, remember: {author: event.value}, end: told}\n";
    let events = ["B,2025-03-20,survey,,,Ted Chiang"];
    let data = load_books(BOOK_PURCHASES, CUSTOMERS, &events, ARRIVALS);
    let r = announce(
        &[("ask", ask), ("new_title", &tell("{type: arrival, match: 'item.author == fact.author'}"))],
        data,
        Policy::default(),
        "2025-06-30",
    );
    assert_eq!(items(&r), ["B I3 2025-05-01"]);
}

#[test]
fn caps_decide_between_arrivals_on_one_day_highest_priority_first() {
    let arrivals = [
        "J1,2025-03-01,arrival,One,Michael Chabon,20,",
        "J2,2025-03-01,arrival,Two,Michael Chabon,20,",
        "J3,2025-03-01,arrival,Three,Zadie Smith,20,",
    ];
    let data = load_books(&[], &["A,Ann,a@x,Michael Chabon,Michael Chabon|Zadie Smith"], &[], &arrivals);
    let policy =
        Policy { caps: vec![Cap { max: 1, per: DAY, channel: None }], on_cap: OnCap::Drop, ..Policy::default() };
    let fav = format!("priority: 5\n{}", tell("{type: arrival, match: 'item.author == customer.fav'}"));
    let any = tell("{type: arrival, match: 'item.author in customer.favs'}");
    let r = announce(&[("any_favourite", &any), ("first_favourite", &fav)], data, policy, "2025-06-30");
    let msgs = r.messages();
    // The higher-priority dialogue speaks first; the rest are over the cap.
    assert_eq!(
        msgs.lines().filter(|l| !l.contains("suppressed")).collect::<Vec<_>>(),
        ["A first_favourite#1 tell/0 email:new_title 2025-03-01 planned"]
    );
    assert_eq!(msgs.lines().filter(|l| l.contains("suppressed")).count(), 4, "{msgs}");
}

#[test]
fn an_opt_out_of_the_channel_suppresses_the_announcement() {
    let events = ["A,2025-02-01,opt_out,email,,"];
    let data = load_books(BOOK_PURCHASES, CUSTOMERS, &events, ARRIVALS);
    let r = announce(
        &[("new_title", &tell("{type: arrival, match: 'item.author == customer.fav'}"))],
        data,
        Policy::default(),
        "2025-06-30",
    );
    assert_eq!(items(&r), ["A I1 2025-03-01 suppressed", "D I3 2025-05-01"]);
}

#[test]
fn the_order_of_catalogue_rows_in_the_file_does_not_matter() {
    let mut rows: Vec<&str> = ARRIVALS.to_vec();
    let d = tell("{type: arrival, match: 'item.author in customer.favs'}");
    let plan_of = |rows: &[&str]| {
        let r = announce(
            &[("new_title", &d)],
            load_books(BOOK_PURCHASES, CUSTOMERS, &[], rows),
            Policy::default(),
            "2025-06-30",
        );
        (r.messages(), items(&r))
    };
    let first = plan_of(&rows);
    rows.reverse();
    assert_eq!(plan_of(&rows), first);
    rows.swap(0, 2);
    assert_eq!(plan_of(&rows), first);
}

#[test]
fn explain_says_why_a_row_did_not_match() {
    let r = on_the_shelf("{type: arrival, match: 'item.author == customer.fav'}");
    let whys: Vec<(bool, String)> = r
        .trace
        .iter()
        .filter_map(|(_, t)| match t {
            Trace::Item { matched, why, .. } => Some((*matched, why.clone())),
            _ => None,
        })
        .collect();
    assert!(whys.contains(&(true, "`item.author == customer.fav` holds".to_owned())), "{whys:?}");
    assert!(
        whys.contains(&(
            false,
            "`item.author == customer.fav` is false: the item has \"Zadie Smith\", the customer \"Michael Chabon\""
                .to_owned()
        )),
        "{whys:?}"
    );
}

#[test]
fn an_empty_preference_matches_no_row_not_every_row_without_the_attribute() {
    let arrivals = ["K1,2025-03-01,arrival,Anthology,,20,", "K2,2025-03-02,arrival,Moonglow 3,Michael Chabon,20,"];
    let data = load_books(&[], CUSTOMERS, &[], &arrivals);
    let r = announce(
        &[("new_title", &tell("{type: arrival, match: 'item.author == customer.fav'}"))],
        data,
        Policy::default(),
        "2025-06-30",
    );
    // C has no favourite and K1 no author: no announcement between them.
    assert_eq!(items(&r), ["A K2 2025-03-02"]);
}

/// `==` and `!=` agree with the ordering `<=` and `>=` use, for every pair of values of
/// every kind (NaN and mixed kinds unequal): the equality fast path changes no answer.
#[test]
fn equality_agrees_with_the_ordering() {
    use crate::expr::compile::Ir;
    use crate::expr::parse::BinOp;
    let data = load_data(&["C1,2025-01-01,o1,p1,books,10"], &[], None);
    let c = history::Cols::default();
    let mut s = history::Scratch::default();
    s.prepare(&data.tx, 0..1, &c);
    let hist = s.view(&data, &c, 0, 0..1, 0..0);
    let ctx = Ctx { now: 0, event: None, row: None, customer: None, hist: &hist, mem: crate::expr::eval::NO_MEMORY };
    let values = || {
        [
            Ir::Num(1.0),
            Ir::Num(2.0),
            Ir::Num(-0.0),
            Ir::Num(0.0),
            Ir::Num(f64::NAN),
            Ir::Str("travel".into()),
            Ir::Str("travels".into()),
            Ir::Str("".into()),
            Ir::Str("1".into()),
            Ir::Bool(true),
            Ir::Bool(false),
        ]
    };
    let run = |op, a: Ir, b: Ir| eval_bool(&Ir::Cmp(op, Box::new(a), Box::new(b)), &ctx);
    for (i, a) in values().into_iter().enumerate() {
        for (j, b) in values().into_iter().enumerate() {
            let ordered_eq = run(BinOp::Le, a.clone(), b.clone()) && run(BinOp::Ge, a.clone(), b.clone());
            assert_eq!(run(BinOp::Eq, a.clone(), b.clone()), ordered_eq, "{a:?} == {b:?}");
            assert_eq!(run(BinOp::Ne, a.clone(), b.clone()), !ordered_eq, "{a:?} != {b:?}");
            assert_eq!(ordered_eq, (i == j && i != 4) || matches!((i, j), (2, 3) | (3, 2)), "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn the_seen_set_is_a_set_small_and_large() {
    let names: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    let mut seen = super::Seen::default();
    for (i, n) in names.iter().enumerate() {
        assert!(!seen.contains(n), "{n}");
        seen.insert(n);
        seen.insert(n);
        assert!(names[..=i].iter().all(|m| seen.contains(m)), "after {n}");
        assert!(!seen.contains("other"));
    }
    assert_eq!(seen.many.len(), 100, "hashed past the first few, each once");
}
