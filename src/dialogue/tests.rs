//! The checking rules of `dialogue::load` on YAML strings written to a temp dir: each rule's
//! exact message, hint and `file:line:col`.
//!
//! Diagnostics are compared through their rendering (`to_string()`), reduced to one line:
//! `error d.yaml:6:11 unknown step `secnd` [help: did you mean `second`?]`.

use crate::diag::Diagnostic;
use crate::expr::Schema;
use crate::model::{ColType, TableKind};

use super::{load, Known, Plan, Schemas};

/// Standard columns, open to others, `amount` and `quantity` numbers (as `check` without inputs).
fn open_schemas() -> Schemas {
    Schemas::open(|k| if k == TableKind::Transactions { vec!["amount".into(), "quantity".into()] } else { Vec::new() })
}

/// The columns of a known transactions file (closed: other names are errors).
fn closed_schemas() -> Schemas {
    let mut s = open_schemas();
    let tx =
        [("order_id", ColType::Str), ("product", ColType::Str), ("category", ColType::Str), ("amount", ColType::Num)];
    s.tx = Schema::new(TableKind::Transactions, tx.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(), false);
    s
}

/// One diagnostic as one line, from its rendering: severity, `file:line:col` (file name
/// only), message, and the hint if any.
fn brief(d: &Diagnostic) -> String {
    let text = d.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let (severity, message) = first.split_once(": ").unwrap_or((first, ""));
    let mut at = String::new();
    let mut help = String::new();
    for l in lines {
        if let Some(loc) = l.trim_start().strip_prefix("--> ") {
            at = loc.rsplit_once('/').map_or(loc, |(_, f)| f).to_owned();
        } else if let Some(h) = l.trim_start().strip_prefix("= help: ") {
            help = format!(" [help: {h}]");
        }
    }
    format!("{severity} {at} {message}{help}")
}

fn load_with(files: &[(&str, &str)], schemas: &Schemas, known: &Known) -> (Plan, Vec<Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let (plan, diags) = load(&[dir.path().to_path_buf()], schemas, known);
    (plan, diags.0)
}

/// Every diagnostic of loading these files (`name.yaml`, body), in the loader's order.
fn check_all(files: &[(&str, &str)], schemas: &Schemas, known: &Known) -> Vec<String> {
    load_with(files, schemas, known).1.iter().map(brief).collect()
}

/// Every diagnostic of one dialogue file `d.yaml`.
fn check(body: &str) -> Vec<String> {
    check_all(&[("d.yaml", body)], &open_schemas(), &Known::default())
}

const SEND: &str = "send: {channel: email, template: t}";

/// A valid dialogue with a purchase trigger and `steps` (indented as list items).
fn with_steps(steps: &str) -> String {
    format!("trigger:\n  purchase: {{}}\nsteps:\n{steps}")
}

#[test]
fn a_valid_dialogue_has_no_diagnostics() {
    let body = with_steps(&format!("  - id: a\n    {SEND}\n"));
    assert_eq!(check(&body), Vec::<String>::new());
    let (plan, _) = load_with(&[("d.yaml", &body)], &open_schemas(), &Known::default());
    assert_eq!(plan.dialogues[0].id, "d", "the id defaults to the file name");
}

#[test]
fn an_unknown_step_suggests_a_close_one_or_lists_them() {
    let body = with_steps(&format!(
        "  - id: first\n    {SEND}\n    next: secnd\n  - id: second\n    {SEND}\n    next: zzzzzz\n"
    ));
    assert_eq!(
        check(&body),
        [
            "error d.yaml:6:11 unknown step `secnd` [help: did you mean `second`?]",
            "error d.yaml:9:11 unknown step `zzzzzz` [help: the steps are: first, second]",
        ]
    );
}

#[test]
fn the_caret_underlines_the_whole_value() {
    let body = with_steps(&format!("  - id: first\n    {SEND}\n    next: secnd\n"));
    let (_, diags) = load_with(&[("d.yaml", &body)], &open_schemas(), &Known::default());
    let text = diags[0].to_string();
    assert!(text.contains("6 |     next: secnd\n  |           ^^^^^\n"), "{text}");
}

#[test]
fn a_duplicate_step_id_is_reported_at_the_second() {
    let body = with_steps(&format!("  - id: a\n    {SEND}\n  - id: a\n    {SEND}\n"));
    assert_eq!(check(&body), ["error d.yaml:6:9 duplicate step id `a`"]);
}

const SUPPORT: &str =
    "trigger:\n  event: {type: complaint}\nsteps:\n  - id: s\n    send: {channel: phone, template: t}\n";

#[test]
fn unknown_dialogues_in_quiet_while_and_start() {
    let promo = format!(
        "trigger:\n  purchase: {{}}\nquiet_while: [supprt]\ngoals:\n  - {{event: purchase, outcome: won, start: nope}}\nsteps:\n  - id: a\n    {SEND}\n    timeout: {{after: 3d, end: lapsed, start: suport}}\n    on:\n      - {{answer: x, end: y}}\n"
    );
    let files = [("promo.yaml", promo.as_str()), ("support.yaml", SUPPORT)];
    assert_eq!(
        check_all(&files, &open_schemas(), &Known::default()),
        [
            "warning promo.yaml:3:15 quiet_while names `supprt`, which is not among the loaded dialogues; it is ignored [help: did you mean `support`?]",
            "error promo.yaml:5:44 unknown dialogue `nope` [help: the dialogues are: promo, support]",
            "error promo.yaml:9:46 unknown dialogue `suport` [help: did you mean `support`?]",
        ]
    );
}

#[test]
fn a_dialogue_cannot_be_quiet_while_itself() {
    let body = format!("trigger:\n  purchase: {{}}\nquiet_while: [d]\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check(&body),
        ["error d.yaml:3:15 a dialogue cannot be quiet while itself is live (it already runs once at a time)"]
    );
}

#[test]
fn goals_end_the_dialogue_with_an_outcome() {
    let body = format!(
        "trigger:\n  purchase: {{}}\ngoals:\n  - {{event: purchase, goto: a}}\n  - event: visit\n    where: store == \"x\"\nsteps:\n  - id: a\n    {SEND}\n"
    );
    assert_eq!(
        check(&body),
        [
            "error d.yaml:4:29 a goal ends the dialogue: use `outcome:`, not `goto:`",
            "error d.yaml:5:5 a goal needs an `outcome:` (e.g. saved, converted, declined)",
        ]
    );
}

#[test]
fn a_branch_waits_for_an_event_or_an_answer_not_both() {
    let body = with_steps(&format!(
        "  - id: a\n    {SEND}\n    on:\n      - {{event: visit, answer: \"yes\", end: x}}\n      - {{end: x}}\n"
    ));
    let msg = "say what this waits for: `event: TYPE` (e.g. purchase, complaint) or `answer: VALUE`, not both";
    assert_eq!(check(&body), [format!("error d.yaml:7:9 {msg}"), format!("error d.yaml:8:9 {msg}")]);
}

#[test]
fn a_step_branch_ends_with_end_and_needs_an_exit() {
    let body = with_steps(&format!(
        "  - id: a\n    {SEND}\n    on:\n      - {{answer: x, outcome: won}}\n      - {{answer: y}}\n      - {{answer: z, goto: a, end: won}}\n"
    ));
    assert_eq!(
        check(&body),
        [
            "error d.yaml:7:30 in a step branch, end the dialogue with `end: OUTCOME`",
            "error d.yaml:8:9 this needs `goto: STEP` or `end: OUTCOME`",
            "error d.yaml:9:27 use either `goto:` or `end:`, not both",
        ]
    );
}

#[test]
fn wait_does_not_go_with_branches_or_a_timeout() {
    let body = with_steps(&format!(
        "  - id: a\n    {SEND}\n    wait: 3d\n    on:\n      - {{answer: x, end: y}}\n  - id: b\n    {SEND}\n    wait: 3d\n    timeout: {{after: 3d, end: z}}\n"
    ));
    assert_eq!(
        check(&body),
        [
            "error d.yaml:6:11 a step with `on:` branches waits for them: use `timeout:` instead of `wait:`",
            "error d.yaml:12:14 a step either waits (`wait:`) or awaits an answer with a `timeout:`, not both",
        ]
    );
}

#[test]
fn a_timeout_says_where_it_goes_itself() {
    let body = with_steps(&format!(
        "  - id: a\n    {SEND}\n    timeout: {{after: 3d, end: lapsed}}\n    next: b\n    on:\n      - {{answer: x, end: y}}\n  - id: b\n    {SEND}\n    timeout: {{after: 3d}}\n"
    ));
    assert_eq!(
        check(&body),
        [
            "error d.yaml:6:14 with a `timeout:`, say where the timeout goes inside it (`goto:`/`end:`), not on the step",
            "error d.yaml:12:14 this needs `goto: STEP` or `end: OUTCOME`",
        ]
    );
}

#[test]
fn branches_with_next_but_no_timeout_are_explained() {
    let body = with_steps(&format!("  - id: a\n    {SEND}\n    next: a\n    on:\n      - {{answer: x, end: y}}\n"));
    assert_eq!(
        check(&body),
        ["error d.yaml:4:9 this step waits for its `on:` branches; to leave when none comes, add `timeout: {after: 30d, goto: STEP}`"]
    );
}

#[test]
fn escalate_needs_the_steps_own_send() {
    let body = with_steps("  - id: a\n    escalate:\n      - {after: 3d, channel: email, template: t}\n");
    assert_eq!(
        check(&body),
        ["error d.yaml:4:9 `escalate:` follows up the step's own message, so the step needs a `send:`"]
    );
}

#[test]
fn tiers_and_templates_are_checked_against_the_config() {
    let body = with_steps(
        "  - id: a\n    send:\n      channel: email\n      template: welcom\n      by_tier:\n        gld: {channel: phone, template: welcome}\n        silver: {channel: phone, template: zzzzzzzz}\n",
    );
    let known = Known {
        tiers: vec!["gold".into(), "silver".into()],
        templates: Some(vec!["welcome".into()]),
        tiers_configured: true,
        ..Known::default()
    };
    assert_eq!(
        check_all(&[("d.yaml", &body)], &open_schemas(), &known),
        [
            "warning d.yaml:7:17 template `welcom` is not defined [help: did you mean `welcome`?]",
            "error d.yaml:9:9 unknown tier `gld` [help: did you mean `gold`?]",
            "warning d.yaml:10:44 template `zzzzzzzz` is not defined [help: add it under `templates:` in kairos.yaml]",
        ]
    );
    // Without tiers in the config, a by_tier never applies: say so.
    assert_eq!(
        check(&body),
        [
            "warning d.yaml:9:41 by_tier `gld`: no tiers are configured, so this variant never applies [help: add `tiers:` to kairos.yaml (from a customer column or computed from history)]",
            "warning d.yaml:10:44 by_tier `silver`: no tiers are configured, so this variant never applies [help: add `tiers:` to kairos.yaml (from a customer column or computed from history)]",
        ]
    );
}

fn trigger(t: &str) -> Vec<String> {
    check(&format!("trigger:\n  {t}\nsteps:\n  - id: a\n    {SEND}\n"))
}

#[test]
fn life_change_needs_categories() {
    assert_eq!(
        trigger("life_change: {categories: []}"),
        [
            "error d.yaml:2:29 a life_change trigger needs at least one category [help: e.g. `categories: [baby, home_improvement]`]"
        ]
    );
}

#[test]
fn absence_needs_exactly_one_of_after_and_usual_gap() {
    let msg = "an absence trigger needs exactly one of `after` (e.g. 90d) or `usual_gap` (e.g. 2.0)";
    assert_eq!(trigger("absence: {}"), [format!("error d.yaml:2:3 {msg}")]);
    assert_eq!(trigger("absence: {after: 30d, usual_gap: 2.0}"), [format!("error d.yaml:2:3 {msg}")]);
    assert_eq!(
        trigger("absence: {after: 30d, min_orders: 3}"),
        ["error d.yaml:2:37 `min_orders` only applies with `usual_gap`"]
    );
    let gap = "`usual_gap` is a multiple of the customer's median gap, e.g. 2.0 (above 0, at most 1000)";
    assert_eq!(trigger("absence: {usual_gap: 0}"), [format!("error d.yaml:2:24 {gap}")]);
    // A gap past any history would overflow the clock (a message planned for year 0).
    assert_eq!(trigger("absence: {usual_gap: 2e14}"), [format!("error d.yaml:2:24 {gap}")]);
    assert_eq!(trigger("absence: {usual_gap: 1000}"), Vec::<String>::new());
    assert_eq!(
        trigger("absence: {usual_gap: 2.0, min_orders: 0}"),
        ["error d.yaml:2:41 min_orders must be a whole number of at least 1, not 0"]
    );
}

#[test]
fn nth_order_numbers_start_at_one() {
    // Each number of a list is pointed at where it is written.
    assert_eq!(trigger("nth_order: {n: [0, 2]}"), ["error d.yaml:2:19 order numbers start at 1; 0 is not one"]);
    assert_eq!(trigger("nth_order: {n: [1, 2, -4]}"), ["error d.yaml:2:25 order numbers start at 1; -4 is not one"]);
    let bad = trigger("nth_order: {n: [1, two]}");
    assert!(bad[0].starts_with("error d.yaml:2:22 `two` is not a whole number"), "{bad:?}");
    assert_eq!(trigger("nth_order: {n: -1}"), ["error d.yaml:2:18 order numbers start at 1; -1 is not one"]);
    assert_eq!(
        trigger("nth_order: {n: []}"),
        ["error d.yaml:2:18 `n` needs at least one order number, e.g. `n: [1, 2, 3, 4]`"]
    );
}

#[test]
fn one_away_must_be_below_the_target() {
    assert_eq!(
        trigger("one_away: {measure: orders, target: 3, away: 3}"),
        ["error d.yaml:2:48 `away` must be more than 0 and less than the target (3)"]
    );
    assert_eq!(
        trigger("one_away: {measure: orders, target: 1}"),
        ["error d.yaml:2:39 the target must be more than 1 (the default `away`)"]
    );
    assert_eq!(trigger("one_away: {measure: orders, target: 3, away: 2}"), Vec::<String>::new());
}

#[test]
fn holdout_is_a_share_below_one() {
    let body = format!("trigger:\n  purchase: {{}}\nholdout: 1.5\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check(&body),
        ["error d.yaml:3:10 holdout is a share of customers from 0 to below 1, not 1.5 [help: e.g. `holdout: 0.1` holds back 10%]"]
    );
    assert_eq!(check(&body.replace("1.5", "-0.1")).len(), 1);
    assert_eq!(check(&body.replace("1.5", "0")), Vec::<String>::new());
}

#[test]
fn bad_durations_name_the_field() {
    let help = "[help: write a number and a unit: 36h, 90d, 12w, 1y]";
    let body = with_steps(
        "  - id: a\n    send: {channel: email, template: t, delay: soon}\n    on:\n      - {answer: x, end: y}\n    timeout: {after: 3 fortnights, end: z}\n",
    );
    assert_eq!(
        check(&body),
        [
            format!("error d.yaml:5:48 delay: `soon` is not a duration {help}"),
            format!("error d.yaml:8:22 timeout after: `3 fortnights` is not a duration {help}"),
        ]
    );
    assert_eq!(
        trigger("frequent_buyer: {count: 2, within: 90}"),
        [format!("error d.yaml:2:38 within: `90` is not a duration {help}")]
    );
}

#[test]
fn reentry_is_never_always_or_a_duration() {
    let body = format!("trigger:\n  purchase: {{}}\nreentry: sometimes\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check(&body),
        ["error d.yaml:3:10 reentry: `sometimes` is not `never`, `always` or a duration [help: e.g. `reentry: 180d` lets a customer start again 180 days after the last run ended]"]
    );
    for ok in ["never", "always", "180d"] {
        assert_eq!(check(&body.replace("sometimes", ok)), Vec::<String>::new(), "{ok}");
    }
}

#[test]
fn an_unknown_measure_suggests_or_lists() {
    assert_eq!(
        trigger("threshold: {measure: spnd, reaches: 100}"),
        ["error d.yaml:2:24 unknown measure `spnd` [help: did you mean `spend`?]"]
    );
    let closed = |t: &str| {
        let body = format!("trigger:\n  {t}\nsteps:\n  - id: a\n    {SEND}\n");
        check_all(&[("d.yaml", &body)], &casino_schemas(), &Known::default())
    };
    assert_eq!(
        closed("one_away: {measure: visits, target: 10}"),
        ["error d.yaml:2:23 unknown measure `visits` [help: a measure is one of: spend, orders, purchases, units, or a numeric column of the transactions (amount, tier_credits)]"]
    );
    // Without the input files, a name that is no built-in is taken for a column.
    assert_eq!(trigger("one_away: {measure: visits, target: 10}"), Vec::<String>::new());
}

/// The transactions of a casino: tier credits are a numeric column.
fn casino_schemas() -> Schemas {
    let mut s = closed_schemas();
    s.tx.fields.push(("tier_credits".into(), ColType::Num));
    s
}

#[test]
fn a_numeric_transactions_column_is_a_measure_and_others_are_named() {
    let closed = |t: &str, when: &str| {
        let body = format!("trigger:\n  {t}\nwhen: {when}\nsteps:\n  - id: a\n    {SEND}\n");
        check_all(&[("d.yaml", &body)], &casino_schemas(), &Known::default())
    };
    assert_eq!(
        closed(
            "threshold: {measure: tier_credits, reaches: 100}",
            "sum(tier_credits, 365d, category == \"slots\") > 1"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        closed("threshold: {measure: tier_credit, reaches: 100}", "sum(tier_credts) > 1"),
        [
            "error d.yaml:2:24 unknown measure `tier_credit` [help: did you mean `tier_credits`?]",
            "error d.yaml:3:11 unknown column `tier_credts` in the transactions data [help: did you mean `tier_credits`?]",
        ]
    );
    assert_eq!(
        closed("one_away: {measure: category, target: 10}", "sum(product) > 1 or sum(\"x\") > 1"),
        [
            "error d.yaml:2:23 column `category` of the transactions holds text, not numbers, so it cannot be summed [help: declare it a number in kairos.yaml: `fields: {transactions: {category: number}}`]",
            "error d.yaml:3:11 column `product` of the transactions holds text, not numbers, so it cannot be summed [help: declare it a number in kairos.yaml: `fields: {transactions: {product: number}}`]",
        ]
    );
    assert_eq!(
        closed("purchase: {}", "sum(\"x\") > 1"),
        ["error d.yaml:3:11 the first argument of `sum` is a numeric transactions column, e.g. `sum(tier_credits, 365d)`"]
    );
    assert_eq!(
        closed("purchase: {}", "sum() > 1"),
        ["error d.yaml:3:7 `sum` takes a transactions column first, e.g. `sum(tier_credits, 365d)`"]
    );
}

#[test]
fn an_event_trigger_on_purchase_points_to_the_purchase_trigger() {
    assert_eq!(
        trigger("event: {type: purchase}"),
        ["error d.yaml:2:17 purchases come from the transactions file [help: use the `purchase:` trigger]"]
    );
}

#[test]
fn frequent_buyer_of_names_a_text_column() {
    let body = "trigger:\n  frequent_buyer: {of: categry, count: 3}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n";
    assert_eq!(
        check_all(&[("d.yaml", body)], &closed_schemas(), &Known::default()),
        ["error d.yaml:2:24 unknown column `categry` in the transactions data [help: did you mean `category`?]"]
    );
    assert_eq!(
        check_all(&[("d.yaml", &body.replace("categry", "zzzzzz"))], &closed_schemas(), &Known::default()),
        [
            "error d.yaml:2:24 unknown column `zzzzzz` in the transactions data [help: the transactions columns are: order_id, product, category, amount]"
        ]
    );
    assert!(check(body).is_empty(), "an open schema accepts any column");
    let numeric = body.replace("categry", "amount");
    let expected = ["error d.yaml:2:24 `of: amount` must name a text column such as product or category"];
    assert_eq!(check(&numeric), expected);
    assert_eq!(check_all(&[("d.yaml", &numeric)], &closed_schemas(), &Known::default()), expected);
    assert_eq!(
        trigger("vip: {of: product, count: 0}"),
        ["error d.yaml:2:29 count must be a whole number of at least 1, not 0"]
    );
}

#[test]
fn a_step_nothing_leads_to_is_a_warning() {
    let body = with_steps(&format!("  - id: a\n    {SEND}\n    end: done\n  - id: orphan\n    {SEND}\n"));
    assert_eq!(check(&body), ["warning d.yaml:7:9 step `orphan` is never reached: no step leads to it"]);
}

#[test]
fn a_dialogue_nothing_can_start_is_a_warning() {
    let lonely = format!("steps:\n  - id: a\n    {SEND}\n");
    let warning = "warning lonely.yaml:1:1 dialogue `lonely` has no trigger and no other dialogue starts it, so it can never run [help: add a `trigger:` or start it from another dialogue with `start:`]";
    assert_eq!(check_all(&[("lonely.yaml", &lonely)], &open_schemas(), &Known::default()), [warning]);
    // Started by another dialogue's goal: no warning.
    let starter =
        format!("trigger:\n  purchase: {{}}\ngoals:\n  - {{event: visit, outcome: came, start: lonely}}\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check_all(&[("lonely.yaml", &lonely), ("starter.yaml", &starter)], &open_schemas(), &Known::default()),
        Vec::<String>::new()
    );
}

/// Dialogues that end at once and start each other, each free to start again at once, loop
/// without end at one instant: an error naming the cycle. A wait, a `reentry:` other than
/// always or a `when:` in the cycle makes it no error (the engine also bounds the loop).
#[test]
fn dialogues_starting_each_other_at_once_are_an_error() {
    let ping = "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: s\n    end: done\n    start: pong\n";
    let pong = |extra: &str| format!("reentry: always\n{extra}steps:\n  - id: s\n    end: done\n    start: ping\n");
    let briefs = |pong: &str| {
        let (_, diags) = load_with(&[("ping.yaml", ping), ("pong.yaml", pong)], &open_schemas(), &Known::default());
        diags.iter().map(brief).collect::<Vec<String>>()
    };
    assert_eq!(
        briefs(&pong("")),
        ["error ping.yaml:1:1 dialogues `ping` → `pong` → `ping` start each other at once without end [help: each ends at the instant it starts and starts the next: add a `wait:`, a `delay:` or a `timeout:` to one of them, or `reentry:` other than always]"]
    );
    assert_eq!(briefs(&pong("when: orders() > 1\n")), Vec::<String>::new());
    let waits = "reentry: always\nsteps:\n  - id: s\n    wait: 1d\n    end: done\n    start: ping\n";
    assert_eq!(briefs(waits), Vec::<String>::new());
    let once = "reentry: never\nsteps:\n  - id: s\n    end: done\n    start: ping\n";
    assert_eq!(briefs(once), Vec::<String>::new());
}

#[test]
fn duplicate_dialogue_ids_across_files() {
    let body = format!("trigger:\n  purchase: {{}}\nsteps:\n  - id: a\n    {SEND}\n");
    let other = format!("id: hello\n{body}");
    let (plan, diags) = load_with(&[("hello.yaml", &body), ("other.yaml", &other)], &open_schemas(), &Known::default());
    let b: Vec<String> = diags.iter().map(brief).collect();
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        b[0].starts_with("error other.yaml:1:5 duplicate dialogue id `hello` [help: `hello` is already defined in "),
        "{}",
        b[0]
    );
    assert!(b[0].ends_with("/hello.yaml]"), "{}", b[0]);
    assert_eq!(plan.dialogues.len(), 1, "the later definition is dropped");
    // An id taken from the file name is reported at the file's start.
    let (_, diags) =
        load_with(&[("a.yaml", &format!("id: b\n{body}")), ("b.yaml", &body)], &open_schemas(), &Known::default());
    let b: Vec<String> = diags.iter().map(brief).collect();
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].starts_with("error b.yaml:1:1 duplicate dialogue id `b` (from the file name) [help: "), "{}", b[0]);
}

#[test]
fn a_dialogue_id_uses_letters_digits_underscore_and_dash() {
    let body = format!("id: \"win back\"\ntrigger:\n  purchase: {{}}\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(check(&body), ["error d.yaml:1:5 dialogue id `win back` may only use letters, digits, `_` and `-`"]);
    // An id taken from the file name is held to the same rule, at the file's start.
    let plain = format!("trigger:\n  purchase: {{}}\nsteps:\n  - id: a\n    {SEND}\n");
    for name in ["win back", "café"] {
        let (_, diags) = load_with(&[(&format!("{name}.yaml"), &plain)], &open_schemas(), &Known::default());
        let b: Vec<String> = diags.iter().map(brief).collect();
        assert_eq!(
            b,
            [format!("error {name}.yaml:1:1 dialogue id `{name}` (from the file name) may only use letters, digits, `_` and `-` [help: rename the file, or give the dialogue an `id:`]")]
        );
    }
    let (_, diags) =
        load_with(&[("win back.yaml", &format!("id: win_back\n{plain}"))], &open_schemas(), &Known::default());
    assert!(diags.is_empty(), "an `id:` names it instead");
}

#[test]
fn a_dialogue_needs_a_step() {
    assert_eq!(check("trigger:\n  purchase: {}\nsteps: []\n"), ["error d.yaml:3:8 a dialogue needs at least one step"]);
}

#[test]
fn conditions_are_checked_at_the_character() {
    let body = format!("trigger:\n  purchase: {{}}\nwhen: customer.teir == \"gold\"\nsteps:\n  - id: a\n    {SEND}\n");
    let known_customers = {
        let mut s = open_schemas();
        s.customers = Schema::new(TableKind::Customers, vec![("tier".into(), ColType::Str)], false);
        s
    };
    assert_eq!(
        check_all(&[("d.yaml", &body)], &known_customers, &Known::default()),
        ["error d.yaml:3:7 unknown field `teir` in the customers data [help: did you mean `tier`?]"]
    );
}

#[test]
fn yaml_shape_errors_suggest_the_trigger() {
    assert_eq!(
        check(&format!("trigger:\n  absense: {{after: 30d}}\nsteps:\n  - id: a\n    {SEND}\n")).len(),
        1,
        "one error for the unknown trigger"
    );
    let b = check(&format!("trigger:\n  absense: {{after: 30d}}\nsteps:\n  - id: a\n    {SEND}\n"));
    assert!(b[0].starts_with("error d.yaml:2:"), "{b:?}");
    assert!(b[0].contains("unknown trigger `absense` [help: did you mean `absence`?]"), "{b:?}");
}

#[test]
fn several_errors_in_one_file_are_all_reported_in_line_order() {
    let body = "\
trigger:
  threshold: {measure: spnd, reaches: 100}
reentry: sometimes
steps:
  - id: a
    send: {channel: email, template: t}
    next: nowhere
  - id: b
    send: {channel: email, template: t}
    wait: soon
";
    let b = check(body);
    assert_eq!(
        b.iter().map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
        ["error d.yaml:2:24", "error d.yaml:3:10", "error d.yaml:7:11", "error d.yaml:10:11"],
        "{b:#?}"
    );
    assert!(b[0].contains("unknown measure `spnd`"));
    assert!(b[1].contains("reentry: `sometimes`"));
    assert!(b[2].contains("unknown step `nowhere`"));
    assert!(b[3].contains("wait: `soon` is not a duration"));
}

#[test]
fn errors_of_several_files_are_reported_file_by_file() {
    let bad = |step: &str| with_steps(&format!("  - id: a\n    {SEND}\n    next: {step}\n"));
    let b = check_all(&[("b.yaml", &bad("zzzz")), ("a.yaml", &bad("yyyy"))], &open_schemas(), &Known::default());
    assert_eq!(
        b,
        [
            "error a.yaml:6:11 unknown step `yyyy` [help: the steps are: a]",
            "error b.yaml:6:11 unknown step `zzzz` [help: the steps are: a]",
        ]
    );
}

#[test]
fn start_goes_with_end_not_goto() {
    let body = with_steps(&format!(
        "  - id: a\n    {SEND}\n    timeout: {{after: 3d, goto: b, start: d}}\n    on:\n      - {{answer: x, end: y}}\n  - id: b\n    {SEND}\n"
    ));
    assert_eq!(
        check(&body),
        ["error d.yaml:6:42 `start:` goes with `end:` (a follow-on starts when this dialogue ends)"]
    );
}

#[test]
fn condition_errors_point_inside_the_text_quoted_or_not() {
    let purchase = |w: &str| format!("trigger:\n  purchase: {{where: {w}}}\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check(&purchase("\"amount >> 3\"")),
        ["error d.yaml:2:30 invalid condition: expected a value (number, \"text\", field, function call or `(`) or a value to compare with, found `>`"]
    );
    assert_eq!(
        check(&purchase("amount > 3 and")),
        ["error d.yaml:2:35 invalid condition: expected a value (number, \"text\", field, function call or `(`), found the end"]
    );
    let when = |t: &str, w: &str| format!("trigger:\n  {t}\nwhen: {w}\nsteps:\n  - id: a\n    {SEND}\n");
    assert_eq!(
        check(&when("absence: {after: 30d}", "event.amount > 3")),
        ["error d.yaml:3:7 `event.amount` has no event to read here: an absence trigger fires on a timer, not on an event [help: use history functions such as `spend(365d)` or `customer.FIELD` instead]"]
    );
    // With no trigger (a follow-on) and in a step's `remember:`, the reason says why.
    assert_eq!(
        check(&format!("when: event.amount > 3\nsteps:\n  - id: a\n    {SEND}\n")),
        [
            "warning d.yaml:1:1 dialogue `d` has no trigger and no other dialogue starts it, so it can never run [help: add a `trigger:` or start it from another dialogue with `start:`]",
            "error d.yaml:1:7 `event.amount` has no event to read here: a follow-on dialogue starts when another ends, with no event to read [help: use history functions such as `spend(365d)` or `customer.FIELD` instead]"
        ]
    );
    assert_eq!(
        check(&format!("trigger:\n  event: {{type: visit}}\nsteps:\n  - id: a\n    {SEND}\n    remember: {{x: event.detail}}\n")),
        ["error d.yaml:6:19 `event.detail` has no event to read here: a step's `remember:` is read when the step is entered, with no event: remember event fields in a branch's `remember:` [help: use history functions such as `spend(365d)` or `customer.FIELD` instead]"]
    );
    // A bad fact name is shown at the name, not at its value.
    assert_eq!(
        check(&format!("trigger:\n  event: {{type: visit}}\nsteps:\n  - id: a\n    {SEND}\n    remember: {{Size: customer.tier, \"bad-name\": '1'}}\n")),
        [
            "error d.yaml:6:16 fact name `Size`: use lower-case letters, digits and `_`",
            "error d.yaml:6:37 fact name `bad-name`: use lower-case letters, digits and `_`"
        ]
    );
    assert_eq!(
        check(&when("purchase: {}", "spend(365d)")),
        ["error d.yaml:3:7 a condition must be true or false, but this is a number [help: compare it with something, e.g. `spend(365d) > 500`]"]
    );
}

#[test]
fn a_message_needs_a_channel() {
    let body = with_steps("  - id: a\n    send: {channel: [], template: t}\n");
    assert_eq!(
        check(&body),
        ["error d.yaml:5:21 a message needs a channel (e.g. email) or a list of channels in order of preference"]
    );
}

#[test]
fn a_bad_at_least_is_a_bad_duration() {
    assert_eq!(
        trigger("absence: {usual_gap: 2.0, at_least: often}"),
        ["error d.yaml:2:39 at_least: `often` is not a duration [help: write a number and a unit: 36h, 90d, 12w, 1y]"]
    );
}

#[test]
fn condition_errors_in_single_and_double_quotes_point_at_the_character() {
    let at = |w: &str| {
        let b = format!("trigger:\n  purchase: {{where: {w}}}\nsteps:\n  - id: a\n    {SEND}\n");
        check(&b)[0].split(' ').nth(1).unwrap().to_owned()
    };
    // The second `>` is column 50 in both.
    assert_eq!(at("\"category == 'x' and amount >> 3\""), "d.yaml:2:50");
    assert_eq!(at("'category == \"x\" and amount >> 3'"), "d.yaml:2:50");
}

#[test]
fn condition_errors_after_escapes_point_at_the_character() {
    let at = |w: &str| {
        let b = format!("trigger:\n  purchase: {{where: {w}}}\nsteps:\n  - id: a\n    {SEND}\n");
        check(&b)[0].split(' ').nth(1).unwrap().to_owned()
    };
    // The second `>` is column 52 in both; today both report column 50 (the space before `>>`).
    assert_eq!(at("\"category == \\\"x\\\" and amount >> 3\""), "d.yaml:2:52");
    assert_eq!(at("'category == ''x'' and amount >> 3'"), "d.yaml:2:52");
}

#[test]
fn steps_that_loop_without_a_wait_are_rejected() {
    let body = with_steps(
        "  - id: a\n    send: {channel: email, template: t}\n    next: b\n  - id: b\n    wait: 0d\n    next: a\n",
    );
    assert_eq!(
        check(&body),
        ["error d.yaml:4:9 steps `a` → `b` → `a` loop without any wait [help: a customer would be sent messages without end at one instant: add a `wait:`, a `delay:` or a `timeout:` to one of them]"]
    );
    // A wait anywhere in the loop makes it a legitimate series.
    let body = with_steps(
        "  - id: a\n    send: {channel: email, template: t}\n    next: b\n  - id: b\n    wait: 30d\n    next: a\n",
    );
    assert_eq!(check(&body), Vec::<String>::new());
}

#[test]
fn when_on_a_rung_a_message_and_a_branch_is_checked_at_the_character() {
    let body = "\
trigger:
  purchase: {}
steps:
  - id: a
    send: {channel: email, template: t, when: customer.segmnt == \"x\"}
    escalate:
      - {after: 7d, channel: email, template: r, when: customer.segmnt == \"x\"}
    timeout: {after: 3d, end: none}
    on:
      - {answer: yes, when: event.answer == \"yes\", end: ok}
      - {answer: no, when: customer.segmnt == \"x\", end: no}
";
    let known_customers = {
        let mut s = open_schemas();
        s.customers = Schema::new(TableKind::Customers, vec![("segment".into(), ColType::Str)], false);
        s
    };
    assert_eq!(
        check_all(&[("d.yaml", body)], &known_customers, &Known::default()),
        [
            "error d.yaml:5:47 unknown field `segmnt` in the customers data [help: did you mean `segment`?]",
            "error d.yaml:7:56 unknown field `segmnt` in the customers data [help: did you mean `segment`?]",
            "error d.yaml:10:29 `event.answer` has no event to read here: a `when:` here is over the customer and history at that moment; use `where:` for the event [help: use history functions such as `spend(365d)` or `customer.FIELD` instead]",
            "error d.yaml:11:28 unknown field `segmnt` in the customers data [help: did you mean `segment`?]",
        ]
    );
}

#[test]
fn next_choices_are_checked_and_an_instant_loop_through_one_is_refused() {
    let body = "\
trigger:
  purchase: {}
steps:
  - id: a
    send: {channel: email, template: t}
    wait: 3d
    next:
      - {goto: b}
      - {when: customer.segmnt == \"x\", goto: c}
  - id: b
    send: {channel: email, template: t}
    next:
      - {when: spend() > 1, goto: bb}
      - {when: spnd() > 1, end: x}
";
    assert_eq!(
        check(body),
        [
            "error d.yaml:8:16 a choice without `when:` is always taken, so the ones after it never are: put it last",
            "error d.yaml:9:46 unknown step `c` [help: did you mean `a`?]",
            "error d.yaml:13:35 unknown step `bb` [help: did you mean `b`?]",
            "error d.yaml:14:16 unknown function `spnd` [help: did you mean `spend`?]",
        ]
    );
    let looping = "\
trigger:
  purchase: {}
steps:
  - id: a
    send: {channel: email, template: t}
    next:
      - {when: spend() > 1, goto: b}
      - {end: done}
  - id: b
    next: a
";
    assert_eq!(check(looping), ["error d.yaml:4:9 steps `a` → `b` → `a` loop without any wait [help: a customer would be sent messages without end at one instant: add a `wait:`, a `delay:` or a `timeout:` to one of them]"]);
    let ok = "\
trigger:
  purchase: {}
steps:
  - id: a
    send: {channel: email, template: t}
    wait: 1d
    next:
      - {when: spend() > 1, goto: c}
  - id: b
    send: {channel: email, template: t}
  - id: c
    send: {channel: email, template: t}
";
    assert_eq!(check(ok), Vec::<String>::new(), "b is reached as the default way on, c through the choice");
}

/// Every unknown key of a dialogue at once (`yaml::keys` against the dialogue schema).
mod unknown_keys {

    fn keys_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(crate::dialogue::raw::RawDialogue)).unwrap()
    }

    fn keys(src: &str) -> Vec<(String, String, usize)> {
        crate::yaml::keys::unknown(src, &keys_schema()).into_iter().map(|u| (u.what, u.key, u.span.start)).collect()
    }

    #[test]
    fn every_unknown_key_at_every_level() {
        let src = "trigger:\n  purchase: {wher: x}\nwhn: a\nsteps:\n  - id: a\n    sned: {}\n    send: {channel: email, template: t, dealy: 1d, by_tier: {gold: {channel: sms, tempalte: x}}}\n";
        let got = keys(src);
        let names: Vec<&str> = got.iter().map(|(_, k, _)| k.as_str()).collect();
        assert_eq!(names, ["wher", "whn", "sned", "dealy", "tempalte"]);
        assert_eq!(got[0].2, src.find("wher").unwrap());
        assert!(got.iter().all(|(w, _, _)| w == "field"));
    }

    #[test]
    fn unknown_variants_are_named_by_their_key() {
        let got = keys("trigger:\n  absense: {after: 30d}\nsteps: []\n");
        assert_eq!(got, [("trigger".to_owned(), "absense".to_owned(), 11)]);
        // A known variant's own fields are checked.
        assert_eq!(keys("trigger:\n  absence: {aftr: 30d}\nsteps: []\n")[0].1, "aftr");
    }

    #[test]
    fn valid_files_have_none_and_aliases_and_merges_are_followed() {
        assert!(
            keys("trigger: {purchase: {}}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n").is_empty()
        );
        let src =
            "x-base: &b {channel: email, tempalte: t}\nsteps:\n  - id: a\n    send:\n      <<: *b\n      delya: 1d\n";
        let got = keys(src);
        let names: Vec<&str> = got.iter().map(|(_, k, _)| k.as_str()).collect();
        assert_eq!(names, ["x-base", "tempalte", "delya"]);
        // Broken YAML is left to serde.
        assert!(keys("steps: [\n").is_empty());
    }
}

#[test]
fn an_absence_or_a_timeout_of_no_time_is_refused() {
    let body = "trigger:\n  absence: {after: 0d}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n    on:\n      - {answer: yes, end: ok}\n    timeout: {after: 0h, end: none}\n";
    assert_eq!(
        check(body),
        [
            "error d.yaml:2:20 after: `0d` is no time at all; it would fire at the instant it starts [help: give a duration longer than zero, e.g. 30d]",
            "error d.yaml:8:22 timeout after: `0h` is no time at all; it would fire at the instant it starts [help: give a duration longer than zero, e.g. 30d]",
        ]
    );
}
