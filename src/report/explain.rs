//! `kairos explain`: one customer's timeline with every trigger decision, state change and
//! message, rendered from the engine's typed trace as readable text or JSON.

use std::io::{self, Write};

use crate::engine::trace::{Skip, Trace};
use crate::engine::CustomerResult;
use crate::input::time::format_utc;
use crate::model::format_duration;
use crate::output::Writer;

/// One line of an explanation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TraceLine {
    pub at: String,
    pub kind: &'static str,
    pub text: String,
}

fn fields(t: &crate::input::Table, r: usize, skip: &str) -> String {
    let mut parts = Vec::new();
    for (i, name) in t.names.iter().enumerate() {
        let v = t.text_at(i, r);
        if !v.is_empty() && name != skip {
            parts.push(format!("{name}={v}"));
        }
    }
    parts.join(" ")
}

/// A trace event as a line of text.
pub fn line(w: &Writer<'_>, at: i64, t: &Trace) -> TraceLine {
    let plan = w.plan;
    let id = |d: usize| plan.dialogues[d].id.as_str();
    let (kind, text) = match t {
        Trace::Remembered { name, value } => ("remember", format!("fact.{name} = {value:?}")),
        Trace::ProfileUpdate { column, value } => ("profile", format!("customer.{column} = {value:?} from now on")),
        Trace::Purchase(r) => ("purchase", fields(&w.data.tx, *r, "")),
        Trace::Event(r) => {
            let evt = w.data.events.as_ref().expect("an event row comes from the events file");
            let kind = evt.col("type").map_or(String::new(), |c| evt.str_at(c, *r).to_owned());
            ("event", format!("{kind} {}", fields(evt, *r, "type")).trim_end().to_owned())
        }
        Trace::Item { dialogue, row, matched, why } => {
            let cat = w.data.catalog.as_ref().expect("a catalogue row comes from the catalogue file");
            let kind = cat.col("type").map_or(String::new(), |c| cat.str_at(c, *row).to_owned());
            let verdict = if *matched { "matches" } else { "does not match" };
            ("catalog", format!("{}: {kind} {}: {verdict}: {why}", id(*dialogue), fields(cat, *row, "type")))
        }
        Trace::Triggered { dialogue, reason } => {
            ("trigger", format!("{}: {} fired: {reason}", id(*dialogue), plan.dialogues[*dialogue].trigger_kind))
        }
        Trace::AbsenceFired { dialogue, reason } => {
            ("trigger", format!("{}: absence timer fired: {reason}", id(*dialogue)))
        }
        Trace::NotStarted { dialogue, why } => {
            let why = match why {
                Skip::AlreadyLive => "already live".to_owned(),
                Skip::RanOnce => "already ran once (reentry: never)".to_owned(),
                Skip::ReentryNotBefore(t, w) => {
                    format!("re-entry not before {} (reentry: {})", &format_utc(*t)[..10], format_duration(*w))
                }
                Skip::Quiet(q) => format!("quiet while `{}` is live", id(*q)),
                Skip::WhenFalse => {
                    let src = plan.dialogues[*dialogue].when.as_ref().map_or("", |c| c.src.as_str());
                    format!("`when: {src}` is false")
                }
                Skip::FollowOnLoop(n) => {
                    format!("follow-ons (`start:`) started {n} runs at this instant: a loop, stopped")
                }
            };
            ("skip", format!("{}: not started: {why}", id(*dialogue)))
        }
        Trace::Started { dialogue, number } => ("start", format!("{}#{number} started", id(*dialogue))),
        Trace::Message { dialogue, number, step, attempt, variant, channel, tier, suppressed, note } => {
            let d = &plan.dialogues[*dialogue];
            let v = &d.steps[*step].ladder[*attempt].variants[*variant];
            let text = format!(
                "{}#{} step {} attempt {}: {} `{}`{}{}{}",
                d.id,
                number,
                d.steps[*step].id,
                attempt,
                v.channels[*channel],
                v.template,
                tier.as_ref().map(|t| format!(" (tier {t})")).unwrap_or_default(),
                suppressed.as_ref().map(|s| format!(" — suppressed: {s}")).unwrap_or_default(),
                note.as_ref().map(|s| format!(" — {s}")).unwrap_or_default(),
            );
            (if suppressed.is_some() { "suppressed" } else { "message" }, text)
        }
        Trace::Skipped { dialogue, number, step, attempt } => {
            let d = &plan.dialogues[*dialogue];
            let s = &d.steps[*step];
            let when = s.ladder[*attempt].when.as_ref().map_or("", |w| w.src.as_str());
            ("skipped", format!("{}#{number} step {} attempt {attempt}: not sent, `when: {when}` is false", d.id, s.id))
        }
        Trace::Branch { dialogue, number, step, label } => {
            let d = &plan.dialogues[*dialogue];
            let at = step.map_or("goal", |s| d.steps[s].id.as_str());
            ("branch", format!("{}#{number}: {label} at {at}", d.id))
        }
        Trace::TimedOut { dialogue, number, step } => {
            let d = &plan.dialogues[*dialogue];
            ("timeout", format!("{}#{number}: no answer at step {}", d.id, d.steps[*step].id))
        }
        Trace::Ended { dialogue, number, outcome } => ("end", format!("{}#{number} ended: {outcome}", id(*dialogue))),
        Trace::Unmatched => ("response", "the response matched no open question of a live dialogue".to_owned()),
    };
    TraceLine { at: format_utc(at), kind, text }
}

/// Catalogue rows that did not match shown per dialogue in the text explanation.
const SHOWN_UNMATCHED: usize = 20;

pub fn write(
    out: &mut dyn Write,
    writer: &Writer<'_>,
    result: &CustomerResult,
    trace: &[(i64, Trace)],
    json: bool,
    customer: &str,
    ledger: &[(serde_json::Value, bool)],
) -> io::Result<()> {
    let profile = writer.profile(result);
    let lines: Vec<TraceLine> = trace.iter().map(|(at, t)| line(writer, *at, t)).collect();
    let mut msgs: Vec<_> = result.messages.iter().collect();
    msgs.sort_by_key(|m| (m.send_at, result.instances[m.instance].dialogue, m.seq));
    if json {
        let mut p = serde_json::Map::new();
        for (k, v) in &profile {
            p.insert((*k).to_owned(), v.clone().into());
        }
        let instances: Vec<serde_json::Value> =
            result.instances.iter().map(|i| serde_json::Value::Object(writer.instance_json(i))).collect();
        let messages: Vec<_> = msgs.iter().map(|m| writer.row(result, m)).collect();
        let doc = serde_json::json!({
            "customer_id": customer,
            "as_of": format_utc(writer.sel.as_of),
            "profile": p,
            "timeline": lines,
            "instances": instances,
            "messages": messages,
            "ledger": ledger.iter().map(|(v, here)| {
                let mut v = v.clone();
                v["in_todays_plan"] = (*here).into();
                v
            }).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "customer {customer} (as of {})", format_utc(writer.sel.as_of))?;
    if !profile.is_empty() {
        let p: Vec<String> = profile.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "  profile: {}", p.join(" "))?;
    }
    writeln!(out, "\ntimeline:")?;
    // A large catalogue offers every row to every announcement: the text shows the first
    // rows that did not match per dialogue and counts the rest (JSON lists them all).
    let mut unmatched: std::collections::BTreeMap<usize, usize> = Default::default();
    for ((_, e), t) in trace.iter().zip(&lines) {
        if let Trace::Item { dialogue, matched: false, .. } = e {
            let n = unmatched.entry(*dialogue).or_default();
            *n += 1;
            if *n > SHOWN_UNMATCHED {
                continue;
            }
        }
        writeln!(out, "  {}  {:<10} {}", t.at, t.kind, t.text)?;
    }
    for (d, n) in unmatched.iter().filter(|(_, n)| **n > SHOWN_UNMATCHED) {
        writeln!(
            out,
            "  … and {} more catalogue rows that did not match {} (`explain --json` lists every one)",
            n - SHOWN_UNMATCHED,
            writer.plan.dialogues[*d].id
        )?;
    }
    writeln!(out, "\ndialogues:")?;
    if result.instances.is_empty() {
        writeln!(out, "  (none started)")?;
    }
    for i in &result.instances {
        let d = &writer.plan.dialogues[i.dialogue];
        let end = match (&i.outcome, i.ended_at) {
            (Some(o), Some(t)) => format!("ended {o} at {}", format_utc(t)),
            _ => "live".to_owned(),
        };
        writeln!(
            out,
            "  {}#{} started {} by {}: {}; {end}",
            d.id,
            i.number,
            format_utc(i.triggered_at),
            i.trigger,
            i.reason
        )?;
    }
    writeln!(out, "\nmessages:")?;
    if msgs.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for m in msgs {
        let r = writer.row(result, m);
        writeln!(
            out,
            "  {}  {:<9} {}#{} {} ({}) {} `{}` id {}{}",
            format_utc(r.send_at),
            r.status,
            r.dialogue,
            r.instance,
            r.step,
            r.attempt,
            r.channel,
            r.template,
            r.message_id(),
            if r.policy_note.is_empty() { String::new() } else { format!(" — {}", r.policy_note) }
        )?;
    }
    if !ledger.is_empty() {
        writeln!(out, "\nledger:")?;
        for (v, here) in ledger {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
            writeln!(
                out,
                "  {}  recorded {}  {}#{} {} ({}) id {}{}",
                s("send_at"),
                s("night"),
                s("dialogue"),
                v["instance"],
                s("step"),
                v["attempt"],
                s("message_id"),
                if *here { "" } else { " — not produced by today's replay (the dialogues or data changed)" }
            )?;
        }
    }
    Ok(())
}
