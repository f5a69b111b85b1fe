//! `kairos explain`: one customer's timeline with every trigger decision, state change and
//! message, as readable text or JSON.

use std::io::{self, Write};

use crate::evaluator::{CustomerResult, TraceLine};
use crate::input::time::format_utc;
use crate::output::Writer;

pub fn write(
    out: &mut dyn Write,
    writer: &Writer<'_>,
    result: &CustomerResult,
    trace: &[TraceLine],
    json: bool,
    customer: &str,
) -> io::Result<()> {
    let data = writer.data;
    let profile: Vec<(String, String)> = match (&data.customers, data.people[result.person].profile) {
        (Some(t), Some(row)) => t.names.iter().enumerate().map(|(i, n)| (n.clone(), t.text_at(i, row))).collect(),
        _ => Vec::new(),
    };
    let mut msgs: Vec<_> = result.messages.iter().collect();
    msgs.sort_by_key(|m| (m.send_at, result.instances[m.instance].dialogue, m.seq));
    if json {
        let mut p = serde_json::Map::new();
        for (k, v) in &profile {
            p.insert(k.clone(), v.clone().into());
        }
        let instances: Vec<serde_json::Value> = result
            .instances
            .iter()
            .map(|i| {
                serde_json::json!({
                    "dialogue": writer.plan.dialogues[i.dialogue].id,
                    "instance": i.number,
                    "trigger": i.trigger,
                    "triggered_at": format_utc(i.triggered_at),
                    "reason": i.reason,
                    "outcome": i.outcome,
                    "ended_at": i.ended_at.map(format_utc),
                })
            })
            .collect();
        let messages: Vec<_> = msgs.iter().map(|m| writer.row(result, m)).collect();
        let doc = serde_json::json!({
            "customer_id": customer,
            "as_of": format_utc(writer.sel.as_of),
            "profile": p,
            "timeline": trace,
            "instances": instances,
            "messages": messages,
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
    for t in trace {
        writeln!(out, "  {}  {:<10} {}", t.at, t.kind, t.text)?;
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
            r.send_at,
            r.status,
            r.dialogue,
            r.instance,
            r.step,
            r.attempt,
            r.channel,
            r.template,
            r.message_id,
            if r.policy_note.is_empty() { String::new() } else { format!(" — {}", r.policy_note) }
        )?;
    }
    Ok(())
}
