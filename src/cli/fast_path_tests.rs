//! The template fast path against minijinja: every shipped template, rendered for every
//! message of the example data (whatever template the message had), must come out the same
//! both ways, and must not need minijinja.

use super::*;

/// Replay `events` (the example's transactions and customers) and compare every shipped
/// template part, rendered for every message, both ways; returns how many renders matched.
fn compare_over(events: &Path) -> usize {
    let ev_arg = events.display().to_string();
    let (n, used) = compare_run(&[
        "--dialogues",
        "dialogues",
        "--transactions",
        "examples/retail/transactions.csv",
        "--customers",
        "examples/retail/customers.csv",
        "--events",
        &ev_arg,
    ]);
    assert!(used > 10, "the example data sends many templates: {used}");
    n
}

/// `kairos run ARGS`, every template part rendered both ways; (renders compared, templates
/// the plan sent).
fn compare_run(args: &[&str]) -> (usize, usize) {
    let mut argv = vec!["kairos", "run", "-q"];
    argv.extend(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Command::Run(args) = cli.command else { panic!("not a run") };
    let s = RunSettings::from_args(&args, true).unwrap();
    let (plan, data, templates) = prepare(&s.replay, true).unwrap();
    let templates = templates.expect("the project has templates");
    let slow: Vec<String> = templates
        .keys
        .values()
        .flat_map(|t| t.parts.iter().filter(|(_, p)| !p.is_fast()).map(move |(c, _)| format!("{}/{c}", t.key)))
        .collect();
    assert_eq!(slow, Vec::<String>::new(), "every shipped template part has a fast path");
    let settings = engine_settings(&s.replay, &data).unwrap();
    let as_of = settings.as_of;
    let ev = Evaluator::new(&data, &plan, settings);
    let layout = s.replay.project.layout(true, true);
    let selection = Selection { as_of, since: None, include_suppressed: true, ledger: None, reemit: None };
    let writer = Writer::new(&data, &plan, &layout, selection).with_templates(Some(&templates));
    let parts: Vec<(&str, &str)> =
        templates.keys.values().flat_map(|t| t.parts.keys().map(move |c| (t.key.as_str(), c.as_str()))).collect();
    let mut stats = Stats::default();
    let mut scratch = Default::default();
    let mut compared = 0;
    let mut used = std::collections::BTreeSet::new();
    for person in 0..data.people.len() {
        let r = ev.run_customer(person, &mut scratch, &mut stats, None);
        for m in &r.messages {
            let base = writer.row(&r, m);
            used.insert(base.template.to_owned());
            for (i, &(key, channel)) in parts.iter().enumerate() {
                // The message's own template always; the others for every 7th message.
                if key != base.template && (compared + i) % 7 != 0 {
                    continue;
                }
                let mut row = base.clone();
                row.template = key;
                row.channel = channel;
                for html in [false, true] {
                    let (fast, slow) = writer.content_both_ways(&r, m, &row, html);
                    let slow = slow.unwrap_or_else(|e| panic!("{key}/{channel} for {}: {e}", row.customer_id));
                    let fast = fast
                        .expect("a fast part")
                        .unwrap_or_else(|_| panic!("{key}/{channel} for {} left the fast path", row.customer_id));
                    assert_eq!(fast, slow, "{key}/{channel} for customer {} (html: {html})", row.customer_id);
                    assert!(slow.is_some());
                    compared += 1;
                }
            }
        }
    }
    (compared, used.len())
}

#[test]
fn the_fast_path_renders_the_bookshops_item_fields_as_minijinja_does() {
    let b = |f: &str| format!("examples/bookshop/{f}");
    let (d, t, c, e, k) =
        (b("dialogues"), b("transactions.csv"), b("customers.csv"), b("events.csv"), b("catalog.csv"));
    let (n, used) = compare_run(&["-d", &d, "-t", &t, "-c", &c, "-e", &e, "--catalog", &k, "--as-of", "2025-12-31"]);
    assert_eq!(used, 3, "every bookshop template is sent");
    assert!(n > 2_000, "{n} renders compared");
}

#[test]
fn the_fast_path_renders_every_shipped_template_as_minijinja_does() {
    let n = compare_over(Path::new("examples/retail/events.csv"));
    assert!(n > 10_000, "{n} renders compared");
}

#[test]
fn the_fast_path_sees_profile_updates_as_minijinja_does() {
    // The example's events, plus profile updates: new names (one blank, so `default`
    // applies), tiers and addresses, some before and some after the customers' messages.
    let text = std::fs::read_to_string("examples/retail/events.csv").unwrap();
    let mut lines = text.lines();
    let mut out = format!("{},column,value\n", lines.next().unwrap());
    for l in lines {
        out.push_str(l);
        out.push_str(",,\n");
    }
    for i in 1..=60 {
        let (column, value) = match i % 4 {
            0 => ("name", String::new()),
            1 => ("name", format!("Zoë O'Brien-{i} <b>")),
            2 => ("tier", "gold".to_owned()),
            _ => ("address", format!("\"{i} New St, Springfield\"")),
        };
        let month = 1 + i % 12;
        out.push_str(&format!("C{i:04},2024-{month:02}-15T10:00:00Z,profile_update,,,,,,{column},{value}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(&events, out).unwrap();
    let n = compare_over(&events);
    assert!(n > 10_000, "{n} renders compared");
}
