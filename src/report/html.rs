//! `kairos report`: one self-contained HTML file (inline CSS and SVG, no script, no external
//! resource) a marketer can open from a mail attachment. Per dialogue: the funnel, messages
//! per week by channel with the scheduled volume ahead, suppressions and deferrals, the
//! holdout comparison, the baseline from history and the graph. Every number comes from the
//! engine's `Stats`; nothing is recomputed here. Same inputs, same bytes: no clock is read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::dialogue::Plan;
use crate::engine::{Reach, Stats};
use crate::input::time::{format_utc, local_date, local_day};
use crate::input::Data;
use crate::model::format_duration;

use super::chart::{self, Weekly};
use super::stats::{pct, points, verdict, wilson, Rate, Verdict, Z95};
use super::{funnel, layout};

/// What the report is made of.
pub struct Inputs<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub stats: &'a Stats,
    /// Data warnings found while replaying.
    pub warnings: usize,
    pub as_of: i64,
    pub tz: chrono_tz::Tz,
    pub horizon: i64,
    /// The kairos.yaml used, if any.
    pub config: Option<&'a Path>,
    /// The dialogue files and folders, as given.
    pub dialogues: &'a [PathBuf],
}

/// Text for HTML: `& < > " '` escaped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An id usable in `id=` and `href="#…"`.
fn anchor(id: &str) -> String {
    let s: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    format!("d-{s}")
}

const STYLE: &str = r#"
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --bar: #3b6fb6; --soft: #f3f5f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 40px 0 4px; padding-top: 16px; border-top: 3px solid var(--ink); }
h3 { font-size: 15px; margin: 22px 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
p.lead, p.note { color: var(--muted); margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kv th { width: 170px; }
.funnel { width: 100%; }
.funnel td.label { width: 46%; }
.funnel td.bar { width: 34%; }
.funnel .d1 td.label { padding-left: 14px; }
.funnel .d2 td.label { padding-left: 30px; color: var(--muted); }
.funnel .d0 td { font-weight: 600; }
.track { background: var(--soft); height: 14px; border-radius: 2px; }
.fill { background: var(--bar); height: 14px; border-radius: 2px; }
.d2 .fill { background: #8eabd6; }
.outcome .fill { background: #2f8f5b; }
.live .fill { background: #b9c0cc; }
.verdict { font-weight: 600; padding: 8px 12px; background: var(--soft); border-left: 4px solid var(--bar); margin: 8px 0; }
.verdict.better { border-color: #2f8f5b; }
.verdict.worse { border-color: #c0392b; }
.verdict.few { border-color: #b9c0cc; }
.graph, .chart { overflow-x: auto; margin: 6px 0; }
.graph svg, .chart svg { display: block; max-width: 100%; height: auto; }
.legend { margin: 4px 0 2px; color: var(--muted); font-size: 13px; }
.legend span { margin-right: 16px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
.legend i.light { background: #8eabd6; opacity: .55; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft); padding: 0 3px; }
"#;

/// The whole report.
pub fn render(i: &Inputs<'_>) -> String {
    let mut h = String::with_capacity(1 << 18);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>kairos report, as of {}</title>", esc(&local_date(i.as_of, i.tz)));
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    header(&mut h, i);
    let weekly = chart::Weekly::from_stats(i.stats, i.plan, None, i.as_of, i.tz);
    h.push_str("<section id=\"volume\">\n<h2>Messages per week, all dialogues</h2>\n");
    h.push_str("<p class=\"lead\">Every message that goes out (suppressed ones are not drawn), by the week (Monday to Sunday, local time) of its send time; bars after the as-of line are scheduled: the projected volume if nothing else happens.</p>\n");
    let _ = writeln!(
        h,
        "<div class=\"chart\" data-chart=\"all\">{}{}</div>",
        chart::legend(&weekly),
        chart::svg(&weekly, "All dialogues: messages per week by channel")
    );
    ahead(&mut h, &weekly);
    h.push_str("</section>\n");
    for d in 0..i.plan.dialogues.len() {
        dialogue(&mut h, i, d);
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn header(h: &mut String, i: &Inputs<'_>) {
    let s = i.stats;
    let _ = writeln!(h, "<h1>kairos report</h1>");
    let _ = writeln!(
        h,
        "<p class=\"lead\">A replay of the history up to {} through {} dialogue{}: what each would have sent, to whom it would have gone, and what customers did.</p>",
        esc(&format_utc(i.as_of)),
        i.plan.dialogues.len(),
        if i.plan.dialogues.len() == 1 { "" } else { "s" }
    );
    h.push_str("<table class=\"kv\" id=\"inputs\">\n");
    let row = |h: &mut String, k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    let file = |t: &crate::input::Table, rows: u64| {
        format!("<code>{}</code> ({rows} rows)", esc(&t.path.display().to_string()))
    };
    row(h, "transactions", file(&i.data.tx, i.data.tx.ts.len() as u64));
    if let Some(c) = &i.data.customers {
        row(h, "customers", file(c, i.data.profile_count as u64));
    }
    if let Some(e) = &i.data.events {
        row(h, "events", file(e, e.ts.len() as u64));
    }
    let dl: Vec<String> =
        i.dialogues.iter().map(|p| format!("<code>{}</code>", esc(&p.display().to_string()))).collect();
    row(h, "dialogues", dl.join(", "));
    row(
        h,
        "config",
        match i.config {
            Some(p) => format!("<code>{}</code>", esc(&p.display().to_string())),
            None => "none found: defaults".to_owned(),
        },
    );
    row(h, "as of", format!("{} (time zone {})", esc(&format_utc(i.as_of)), esc(i.tz.name())));
    row(h, "projected ahead", esc(&format_duration(i.horizon)));
    row(h, "replayed", format!("{} customers, {} transactions, {} events", s.customers, s.transactions, s.events));
    if i.warnings > 0 {
        row(h, "data warnings", format!("{} (listed by <code>kairos run</code> on stderr)", i.warnings));
    }
    h.push_str("</table>\n");
    // Totals by status, as `kairos run` without a ledger would write them.
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    let due_day = local_day(i.as_of, i.tz);
    for (k, n) in s.sent.iter() {
        let st = if k.scheduled {
            "scheduled"
        } else if k.day == due_day {
            "due"
        } else {
            "planned"
        };
        *by.entry(st).or_default() += n;
    }
    let suppressed: u64 = s.suppressed.values().sum();
    h.push_str("<h3>Messages by status</h3>\n<table id=\"totals\">\n<tr><th>status</th><th class=\"n\">messages</th><th>meaning</th></tr>\n");
    for (st, what) in [
        ("planned", "before the as-of day (a replay cannot know whether they were sent)"),
        ("due", "on the as-of day"),
        ("scheduled", "after as-of: live conversations projected ahead"),
    ] {
        let _ = writeln!(
            h,
            "<tr data-status=\"{st}\" data-n=\"{n}\"><td>{st}</td><td class=\"n\">{n}</td><td>{what}</td></tr>",
            n = by.get(st).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        h,
        "<tr data-status=\"suppressed\" data-n=\"{suppressed}\"><td>suppressed</td><td class=\"n\">{suppressed}</td><td>held back by the contact policy (consent, caps, windows, holdout, quiet)</td></tr>"
    );
    h.push_str("</table>\n");
    // The dialogues at a glance, with links.
    h.push_str("<h3>Dialogues</h3>\n<table id=\"overview\">\n<tr><th>dialogue</th><th class=\"n\">entered</th><th class=\"n\">messages</th><th class=\"n\">suppressed</th><th class=\"n\">live at as-of</th><th>holdout</th></tr>\n");
    for (d, dl) in i.plan.dialogues.iter().enumerate() {
        let entered = s.entered.get(&d).copied().unwrap_or(0);
        let msgs: u64 = s.messages.range((d, 0, 0)..(d + 1, 0, 0)).map(|(_, n)| n).sum();
        let sup: u64 = s.suppressed.iter().filter(|((k, _), _)| *k == d).map(|(_, n)| n).sum();
        let ended: u64 = s.outcomes.ended(d);
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"n\">{entered}</td><td class=\"n\">{msgs}</td><td class=\"n\">{sup}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            anchor(&dl.id),
            esc(&dl.id),
            entered.saturating_sub(ended),
            if dl.holdout > 0.0 { pct(dl.holdout) } else { String::new() }
        );
    }
    h.push_str("</table>\n");
}

/// The scheduled volume of the next weeks by channel: what call centres and print shops plan for.
fn ahead(h: &mut String, w: &Weekly) {
    const WEEKS: usize = 8;
    let first = w.weeks.iter().position(|&wk| w.scheduled_in(wk));
    let Some(first) = first else {
        h.push_str("<p class=\"note\">Nothing is scheduled after as-of.</p>\n");
        return;
    };
    let weeks: Vec<usize> = (first..w.weeks.len()).take(WEEKS).collect();
    h.push_str("<h3>Scheduled in the weeks ahead</h3>\n<table class=\"ahead\">\n<tr><th>channel</th>");
    for &k in &weeks {
        let _ = write!(h, "<th class=\"n\">week of {}</th>", esc(&chart::day_label(w.weeks[k])));
    }
    h.push_str("</tr>\n");
    for (c, ch) in w.channels.iter().enumerate() {
        let total: u64 = weeks.iter().map(|&k| w.counts[k][c].1).sum();
        if total == 0 {
            continue;
        }
        let _ = write!(h, "<tr><td>{}</td>", esc(ch));
        for &k in &weeks {
            let _ = write!(h, "<td class=\"n\">{}</td>", w.counts[k][c].1);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn rate_cell(r: &Rate) -> String {
    if r.n == 0 {
        return "<td class=\"n\">–</td><td class=\"n\">–</td>".to_owned();
    }
    format!("<td class=\"n\">{}</td><td class=\"n\">{} to {}</td>", pct(r.p), pct(r.lo), pct(r.hi))
}

fn dialogue(h: &mut String, i: &Inputs<'_>, d: usize) {
    let dl = &i.plan.dialogues[d];
    let s = i.stats;
    let _ = writeln!(h, "<section class=\"dialogue\" id=\"{}\" data-dialogue=\"{}\">", anchor(&dl.id), esc(&dl.id));
    let _ = writeln!(h, "<h2>{}</h2>", esc(&dl.id));
    if !dl.description.is_empty() {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", esc(&dl.description));
    }
    let _ = writeln!(h, "<p class=\"note\">Defined in <code>{}</code>.</p>", esc(&dl.file.display().to_string()));

    // Funnel.
    let f = funnel::build(s, d, dl);
    h.push_str("<h3>Funnel</h3>\n");
    h.push_str("<p class=\"note\">Rates are shares of the customers who entered. Messages count those that go out (planned, due and scheduled); exits, goals and outcomes count what happened by as-of.</p>\n");
    let _ = writeln!(h, "<table class=\"funnel\" data-funnel=\"{}\">", esc(&dl.id));
    h.push_str(
        "<tr><th>stage</th><th></th><th class=\"n\">customers / messages</th><th class=\"n\">of entered</th></tr>\n",
    );
    for r in &f.rows {
        let share = if f.entered == 0 { 0.0 } else { r.n as f64 / f.entered as f64 };
        let width = (share.min(1.0) * 100.0 * 10.0).round() / 10.0;
        let class = if r.key.starts_with("outcome:") || r.key.starts_with("goal:") {
            " outcome"
        } else if r.key == "live" {
            " live"
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr class=\"d{}{class}\" data-key=\"{}\" data-n=\"{}\"><td class=\"label\">{}</td><td class=\"bar\"><div class=\"track\"><div class=\"fill\" style=\"width:{width}%\"></div></div></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            r.depth,
            esc(&r.key),
            r.n,
            esc(&r.label),
            r.n,
            if f.entered == 0 { "–".to_owned() } else { pct(share) }
        );
    }
    h.push_str("</table>\n");

    // Volume.
    let weekly = Weekly::from_stats(s, i.plan, Some(d), i.as_of, i.tz);
    h.push_str("<h3>Messages per week by channel</h3>\n");
    let _ = writeln!(
        h,
        "<div class=\"chart\" data-chart=\"{}\">{}{}</div>",
        esc(&dl.id),
        chart::legend(&weekly),
        chart::svg(&weekly, &format!("{}: messages per week by channel", dl.id))
    );
    ahead(h, &weekly);

    // Suppressions and deferrals.
    h.push_str("<h3>Suppressed and deferred</h3>\n");
    let sup: Vec<(String, u64)> =
        s.suppressed.iter().filter(|((k, _), _)| *k == d).map(|((_, why), n)| (why.to_string(), *n)).collect();
    let deferred = s.deferred.get(&d).copied().unwrap_or(0);
    let out: u64 = s.messages.range((d, 0, 0)..(d + 1, 0, 0)).map(|(_, n)| n).sum();
    let asked = out + sup.iter().map(|(_, n)| n).sum::<u64>();
    if sup.is_empty() && deferred == 0 {
        h.push_str("<p class=\"note\">No message was suppressed or deferred.</p>\n");
    } else {
        let _ = writeln!(h, "<table class=\"suppressed\" data-suppressed=\"{}\">", esc(&dl.id));
        h.push_str("<tr><th>reason</th><th class=\"n\">messages</th><th class=\"n\">of all the dialogue wanted to send</th></tr>\n");
        let share = |n: u64| if asked == 0 { "–".to_owned() } else { pct(n as f64 / asked as f64) };
        for (why, n) in &sup {
            let _ = writeln!(
                h,
                "<tr><td>suppressed: {}</td><td class=\"n\">{n}</td><td class=\"n\">{}</td></tr>",
                esc(why),
                share(*n)
            );
        }
        let _ = writeln!(
            h,
            "<tr><td>deferred (sent later: send window or cap)</td><td class=\"n\">{deferred}</td><td class=\"n\">{}</td></tr>",
            share(deferred)
        );
        h.push_str("</table>\n");
    }

    let groups = |held: bool| s.reach.get(&(d, held)).copied().unwrap_or_default();
    let (held, treated) = (groups(true), groups(false));
    if dl.holdout > 0.0 {
        holdout(h, i, d, &held, &treated);
    }
    baseline(h, dl, &held, &treated);

    // Graph.
    h.push_str("<h3>Graph</h3>\n");
    let g = super::graph::build(i.plan, d);
    let _ =
        writeln!(h, "<div class=\"graph\" data-graph=\"{}\">{}</div>", esc(&dl.id), layout::svg(&g, &anchor(&dl.id)));
    h.push_str("</section>\n");
}

/// Held-out against treated customers: the goal rate (or each outcome's) with intervals.
fn holdout(h: &mut String, i: &Inputs<'_>, d: usize, held: &Reach, treated: &Reach) {
    let dl = &i.plan.dialogues[d];
    let s = i.stats;
    let _ = writeln!(h, "<h3>Holdout comparison</h3>\n<div class=\"holdout\" data-holdout=\"{}\">", esc(&dl.id));
    let _ = writeln!(
        h,
        "<p class=\"note\">{} of customers are held out (chosen by a hash of customer and dialogue, the same every run): they enter the dialogue but get none of its messages. Only instances that ended by as-of count; live ones are left out. Intervals are 95% Wilson intervals; the difference's is Newcombe's.</p>",
        pct(dl.holdout)
    );
    let _ = writeln!(
        h,
        "<table>\n<tr><th>group</th><th class=\"n\">entered</th><th class=\"n\">ended by as-of</th><th class=\"n\">reached a goal</th><th class=\"n\">goal rate</th><th class=\"n\">95% interval</th></tr>"
    );
    for (name, r) in [("treated (messages sent)", treated), ("held out (no messages)", held)] {
        let rate = wilson(r.goal, r.concluded, Z95);
        let _ = writeln!(
            h,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}</tr>",
            r.entered,
            r.concluded,
            r.goal,
            rate_cell(&rate)
        );
    }
    h.push_str("</table>\n");
    if dl.goals.is_empty() {
        h.push_str("<p class=\"note\">This dialogue has no <code>goals:</code>, so no goal rate: compare its outcomes below.</p>\n");
    } else {
        let v = verdict(&wilson(treated.goal, treated.concluded, Z95), &wilson(held.goal, held.concluded, Z95));
        verdict_box(h, &v, "the goal");
    }
    // Each outcome, by group.
    let outcomes = s.outcomes.of(d);
    if !outcomes.is_empty() {
        h.push_str("<table>\n<tr><th>outcome</th><th class=\"n\">treated</th><th class=\"n\">95% interval</th><th class=\"n\">held out</th><th class=\"n\">95% interval</th><th class=\"n\">difference</th><th>verdict</th></tr>\n");
        for (o, [n_treated, n_held]) in outcomes {
            let (t, c) = (wilson(n_treated, treated.concluded, Z95), wilson(n_held, held.concluded, Z95));
            let v = verdict(&t, &c);
            let (diff, word) = match v {
                Verdict::TooFew => ("–".to_owned(), "not enough customers to tell"),
                Verdict::NoClearDifference(x) => (points(x.d), "no clear difference"),
                Verdict::Better(x) => (points(x.d), "more often when treated"),
                Verdict::Worse(x) => (points(x.d), "less often when treated"),
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td>{}{}<td class=\"n\">{diff}</td><td>{word}</td></tr>",
                esc(o),
                rate_cell(&t),
                rate_cell(&c)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</div>\n");
}

fn verdict_box(h: &mut String, v: &Verdict, what: &str) {
    let class = match v {
        Verdict::TooFew => "few",
        Verdict::NoClearDifference(_) => "unclear",
        Verdict::Better(_) => "better",
        Verdict::Worse(_) => "worse",
    };
    let _ = writeln!(h, "<p class=\"verdict {class}\">On {}: {}</p>", esc(what), esc(&v.sentence()));
}

/// How often entered customers reached the goal without the dialogue's help.
fn baseline(h: &mut String, dl: &crate::dialogue::plan::Dialogue, held: &Reach, treated: &Reach) {
    h.push_str("<h3>Baseline from history</h3>\n");
    if dl.goals.is_empty() {
        h.push_str("<p class=\"note\">This dialogue has no <code>goals:</code>: add one (e.g. <code>- event: purchase</code>) to see how often customers get there anyway.</p>\n");
        return;
    }
    let concluded = held.concluded + treated.concluded;
    let goal = held.goal + treated.goal;
    let unprompted = held.goal_unprompted + treated.goal_unprompted;
    let all = wilson(goal, concluded, Z95);
    let natural = wilson(unprompted, concluded, Z95);
    let _ = writeln!(h, "<table class=\"baseline\" data-baseline=\"{}\">", esc(&dl.id));
    h.push_str("<tr><th></th><th class=\"n\">customers</th><th class=\"n\">of ended by as-of</th><th class=\"n\">95% interval</th></tr>\n");
    let _ = writeln!(h, "<tr><td>ended by as-of</td><td class=\"n\">{concluded}</td><td></td><td></td></tr>");
    let _ = writeln!(h, "<tr><td>reached a goal</td><td class=\"n\">{goal}</td>{}</tr>", rate_cell(&all));
    let _ = writeln!(
        h,
        "<tr><td>reached it before any message of theirs went out</td><td class=\"n\">{unprompted}</td>{}</tr>",
        rate_cell(&natural)
    );
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">Replayed over history, these customers never got this dialogue's messages (unless it was already running then): {} of those whose dialogue ended by as-of reached a goal anyway. That is the natural rate a message has to beat; {} got there even before the first message would have gone out.</p>",
        if concluded == 0 { "none".to_owned() } else { pct(all.p) },
        if concluded == 0 { "none".to_owned() } else { pct(natural.p) }
    );
}
