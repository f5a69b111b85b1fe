//! `kairos preview`: one customer's messages rendered as they would go out, for a marketer
//! checking copy before launch.

use std::io::{self, Write};

use crate::engine::CustomerResult;
use crate::input::time::format_utc;
use crate::output::Writer;

/// Which messages to show.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub dialogue: Option<usize>,
    pub step: Option<&'a str>,
}

/// Write every selected message of `r`: a header line, then the subject and text, indented.
pub fn write(out: &mut dyn Write, w: &Writer<'_>, r: &CustomerResult, f: &Filter<'_>) -> io::Result<()> {
    let msgs: Vec<_> = w
        .selected(r)
        .into_iter()
        .filter(|m| f.dialogue.is_none_or(|d| r.instances[m.instance].dialogue == d))
        .collect();
    let mut shown = 0;
    for m in msgs {
        let row = w.full_row(r, m)?;
        if f.step.is_some_and(|s| s != row.step) {
            continue;
        }
        shown += 1;
        let to = if row.contact.is_empty() { "(no address)".to_owned() } else { row.contact.to_owned() };
        writeln!(
            out,
            "── {} · {} → {} · {} #{} step {}{} · {}{}",
            format_utc(row.send_at),
            row.channel,
            to,
            row.dialogue,
            row.instance,
            row.step,
            if row.attempt > 0 { format!(" (escalation {})", row.attempt) } else { String::new() },
            row.status,
            if row.policy_note.is_empty() { String::new() } else { format!(" ({})", row.policy_note) },
        )?;
        writeln!(out, "   template {} · message {}", row.template, row.message_id())?;
        match &row.content {
            None => writeln!(out, "   (no content: the template has no `{}` part)", row.channel)?,
            Some(c) => {
                if let Some(s) = &c.subject {
                    writeln!(out, "   Subject: {s}")?;
                }
                if let Some(l) = &c.sms {
                    writeln!(
                        out,
                        "   SMS: {} characters, {} segment(s), {}",
                        l.units,
                        l.segments,
                        l.encoding.as_str()
                    )?;
                }
                writeln!(out)?;
                for line in c.body.lines() {
                    if line.is_empty() {
                        writeln!(out)?;
                    } else {
                        writeln!(out, "   {line}")?;
                    }
                }
                if c.html.is_some() {
                    writeln!(out, "\n   (and an HTML part)")?;
                }
            }
        }
        writeln!(out)?;
    }
    if shown == 0 {
        writeln!(out, "no messages for {} with these filters", w.data.people[r.person].id)?;
    }
    Ok(())
}
