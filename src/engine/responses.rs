//! Which live dialogue instance a response addresses: by a quoted `message_id`, or by the
//! `dialogue` (and optional `step`) it names. Unknown names become data warnings.

use crate::dialogue::Plan;
use crate::input::Table;

use super::history::Cols;
use super::result::{Instance, Warning};

/// Whom a response is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The live instance of this dialogue, at this step (None: whatever step it is in), in
    /// this visit of the step (a quoted message's; None: whichever visit is current).
    Dialogue { dialogue: usize, step: Option<usize>, visit: Option<u32> },
    /// It quotes a message of an instance that is no longer live: nothing can take it.
    Gone,
}

/// What the resolver needs to know of the customer so far.
pub struct Known<'a> {
    pub customer: &'a str,
    pub instances: &'a [Instance],
    /// Messages handed to the policy so far: (instance, step, visit, attempt).
    pub sent: &'a [(usize, usize, u32, usize)],
    /// Is this instance record the live one of its dialogue?
    pub is_live: &'a dyn Fn(usize) -> bool,
    /// Messages the sent ledger holds, by id: (dialogue, instance number, step) — so an
    /// answer quoting a message that was really sent is matched even when today's replay
    /// produces it under another id.
    pub ledger: Option<&'a LedgerIds>,
}

/// The ledger's messages by id: (dialogue id, instance number, step id).
pub type LedgerIds = std::collections::HashMap<String, (String, u32, String)>;

/// Resolve the response on row `r` of `events`; `Err` carries a warning.
pub fn target(plan: &Plan, events: &Table, r: usize, c: &Cols, known: &Known<'_>) -> Result<Target, Warning> {
    let get = |col: Option<usize>| col.map_or("", |c| events.str_at(c, r));
    let line = events.line[r];
    let warn = |message: String| Warning { table: crate::model::TableKind::Events, line, message };
    let (msg, dlg, step) = (get(c.ev_message), get(c.ev_dialogue), get(c.ev_step));
    if !msg.is_empty() {
        // Ids are derived on demand: most customers never quote one.
        let found = known.sent.iter().find(|&&(rec, step, visit, attempt)| {
            let inst = &known.instances[rec];
            let d = &plan.dialogues[inst.dialogue];
            let h = inst.message_hash(known.customer, &d.id, &d.steps[step].id, visit, attempt as u32);
            crate::ids::hex32(h) == msg.as_bytes()
        });
        return match found.copied() {
            // A quoted message addresses its own run only, not a later run of the dialogue.
            // And its own visit of the step: once the step is entered again, the earlier
            // visit's question is over.
            Some((rec, step, visit, _)) if (known.is_live)(rec) => {
                Ok(Target::Dialogue { dialogue: known.instances[rec].dialogue, step: Some(step), visit: Some(visit) })
            }
            Some(_) => Ok(Target::Gone),
            None => match known.ledger.and_then(|l| l.get(msg)) {
                // A message the ledger says went out: its dialogue's run, if still live.
                Some((dlg, number, step)) => {
                    let live = plan.find(dlg).and_then(|d| {
                        known
                            .instances
                            .iter()
                            .enumerate()
                            .find(|(rec, i)| i.dialogue == d && i.number == *number && (known.is_live)(*rec))
                    });
                    Ok(match live {
                        Some((_, i)) => Target::Dialogue {
                            dialogue: i.dialogue,
                            step: plan.dialogues[i.dialogue].steps.iter().position(|s| s.id == *step),
                            visit: None,
                        },
                        None => Target::Gone,
                    })
                }
                None => Err(warn(format!("response quotes unknown message_id `{msg}`"))),
            },
        };
    }
    if dlg.is_empty() {
        return Err(warn("response names no dialogue or message_id; it cannot be matched".to_owned()));
    }
    let Some(d) = plan.find(dlg) else {
        return Err(warn(format!("response names unknown dialogue `{dlg}`")));
    };
    if step.is_empty() {
        return Ok(Target::Dialogue { dialogue: d, step: None, visit: None });
    }
    match plan.dialogues[d].steps.iter().position(|s| s.id == step) {
        Some(s) => Ok(Target::Dialogue { dialogue: d, step: Some(s), visit: None }),
        None => Err(warn(format!("response names unknown step `{step}` of dialogue `{dlg}`"))),
    }
}

/// The event types dialogues wait for (trigger `event:`, branch `event:`) that no row of the
/// events file has: a misspelt type (`complaitn`) would otherwise wait silently for ever. A
/// warning at the place the type is written, with the nearest type the file has.
pub fn event_type_warnings(plan: &Plan, data: &crate::input::Data) -> Vec<crate::diag::Diagnostic> {
    data.events.as_ref().map_or_else(Vec::new, |t| event_type_warnings_in(plan, t))
}

/// `event_type_warnings` against an events table (`check -e`, which reads no other data).
pub fn event_type_warnings_in(plan: &Plan, t: &Table) -> Vec<crate::diag::Diagnostic> {
    event_type_warnings_for(plan, &t.path, &event_types_of(t))
}

/// The event types of the file a table was read from, sorted, once each: its rows' and those
/// of the rows `--shard` left out.
pub fn event_types_of(t: &Table) -> Vec<&str> {
    let mut types: Vec<&str> = t.col("type").map_or(Vec::new(), |c| (0..t.len()).map(|r| t.str_at(c, r)).collect());
    types.extend(t.other_types.iter().map(|x| &**x));
    types.sort_unstable();
    types.dedup();
    types
}

/// `event_type_warnings` given the types (sorted, once each) of the events file at `path`:
/// with `--presorted`, those of every batch.
pub fn event_type_warnings_for(plan: &Plan, path: &std::path::Path, types: &[&str]) -> Vec<crate::diag::Diagnostic> {
    let mut out = Vec::new();
    for d in &plan.dialogues {
        let mut seen: Vec<&str> = Vec::new();
        for (kind, at) in &d.event_types {
            if types.binary_search(&kind.as_str()).is_ok() || seen.contains(&kind.as_str()) {
                continue;
            }
            seen.push(kind);
            let hint = crate::diag::did_you_mean(kind, types.iter().copied()).map_or_else(
                || {
                    if types.is_empty() {
                        return "the file has no events".to_owned();
                    }
                    let shown: Vec<&str> = types.iter().take(20).copied().collect();
                    let more = if types.len() > shown.len() { ", ..." } else { "" };
                    format!("its types are: {}{more}", shown.join(", "))
                },
                |x| format!("did you mean `{x}`?"),
            );
            out.push(
                at.clone()
                    .with_message(format!(
                        "{}: no row of the events file {} has type `{kind}`, so nothing here answers to it",
                        d.id,
                        path.display()
                    ))
                    .with_severity(crate::diag::Severity::Warning)
                    .with_hint(hint),
            );
        }
    }
    out
}
