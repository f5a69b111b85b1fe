//! The run summary on stderr: data warnings, what was read, what was written (totals by
//! status first, then per dialogue), and with `--summary full` what each dialogue did.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::dialogue::Plan;
use crate::engine::{BranchAt, Stats, StepExit, Warning};
use crate::input::time::format_utc;
use crate::input::Data;
use crate::model::TableKind;

const MAX_WARNINGS: usize = 20;

/// How much of the summary to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Warnings only.
    None,
    /// What was read and written, by status and dialogue.
    Short,
    /// Also each dialogue's steps, exits, goals, outcomes and suppressions over the whole replay.
    Full,
}

/// Data warnings, the first `MAX_WARNINGS` of them, in file order.
pub fn warnings(w: &mut dyn Write, data: &Data, warnings: &[Warning]) -> io::Result<()> {
    let mut warnings: Vec<(TableKind, u32, &str)> =
        warnings.iter().map(|w| (w.table, w.line, w.message.as_str())).collect();
    warnings.sort();
    let path = |t: TableKind| {
        let table = match t {
            TableKind::Events => data.events.as_ref(),
            TableKind::Customers => data.customers.as_ref(),
            TableKind::Transactions => Some(&data.tx),
            TableKind::Catalog => data.catalog.as_deref(),
        };
        table.map_or_else(|| t.name().to_owned(), |t| t.path.display().to_string())
    };
    for (table, line, msg) in warnings.iter().take(MAX_WARNINGS) {
        writeln!(w, "warning: {}:{line}: {msg}", path(*table))?;
    }
    if warnings.len() > MAX_WARNINGS {
        writeln!(w, "warning: … and {} more data warnings", warnings.len() - MAX_WARNINGS)?;
    }
    Ok(())
}

/// `1 message`, `2 messages`.
fn messages(n: u64) -> String {
    format!("{n} message{}", if n == 1 { "" } else { "s" })
}

/// Counts by status, in the order a reader expects.
fn by_status(counts: &BTreeMap<&'static str, u64>) -> String {
    const ORDER: [&str; 8] = ["due", "late", "planned", "scheduled", "sent", "expired", "suppressed", ""];
    let mut parts: Vec<String> =
        ORDER.iter().filter_map(|s| counts.get(s).filter(|n| **n > 0).map(|n| format!("{n} {s}"))).collect();
    parts.extend(counts.iter().filter(|(s, n)| !ORDER.contains(s) && **n > 0).map(|(s, n)| format!("{n} {s}")));
    parts.join(", ")
}

#[allow(clippy::too_many_arguments)]
pub fn print(
    w: &mut dyn Write,
    data: &Data,
    plan: &Plan,
    stats: &Stats,
    warns: &[Warning],
    as_of: i64,
    written: &BTreeMap<(usize, &'static str), u64>,
    detail: Detail,
) -> io::Result<()> {
    warnings(w, data, warns)?;
    if detail == Detail::None {
        return Ok(());
    }
    let catalog = data.catalog.as_ref().map_or_else(String::new, |c| format!(", {} catalogue rows", c.len()));
    writeln!(
        w,
        "kairos: read {} customers ({} with profiles), {} transactions, {} events{catalog} up to {}",
        stats.customers,
        data.profile_count,
        stats.transactions,
        stats.events,
        format_utc(as_of)
    )?;
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut per_dialogue: BTreeMap<usize, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for ((d, s), n) in written {
        *totals.entry(s).or_default() += n;
        *per_dialogue.entry(*d).or_default().entry(s).or_default() += n;
    }
    let total: u64 = totals.values().sum();
    if total == 0 {
        writeln!(w, "kairos: wrote 0 messages")?;
    } else {
        writeln!(w, "kairos: wrote {}: {}", messages(total), by_status(&totals))?;
    }
    let width = plan.dialogues.iter().map(|d| d.id.len()).max().unwrap_or(0);
    for (d, counts) in &per_dialogue {
        writeln!(w, "  {:<width$}  {}", plan.dialogues[*d].id, by_status(counts))?;
    }
    let entered: u64 = stats.entered.values().sum();
    let ended: u64 = stats.outcomes.total();
    let suppressed: u64 = stats.suppressed.values().sum();
    write!(
        w,
        "kairos: {} dialogues entered {entered} times over the whole replay, {} still live at as-of, {} suppressed",
        plan.dialogues.len(),
        entered.saturating_sub(ended),
        messages(suppressed)
    )?;
    if detail == Detail::Short {
        writeln!(w, " (`--summary full` shows each dialogue; `kairos report` draws them)")?;
    } else {
        writeln!(w)?;
        full(w, plan, stats)?;
    }
    if stats.unmatched_responses > 0 {
        writeln!(
            w,
            "kairos: {} responses matched no open question (the dialogue had moved on or ended, or no branch takes that answer; `kairos explain CUSTOMER` shows which)",
            stats.unmatched_responses
        )?;
    }
    Ok(())
}

/// Each dialogue over the whole replay: entries, each step's messages and exits, goals,
/// outcomes and suppressions.
fn full(w: &mut dyn Write, plan: &Plan, stats: &Stats) -> io::Result<()> {
    for (d, dialogue) in plan.dialogues.iter().enumerate() {
        let entered = stats.entered.get(&d).copied().unwrap_or(0);
        let msgs: u64 = stats.messages.range((d, 0, 0)..(d + 1, 0, 0)).map(|(_, v)| v).sum();
        let mut outcomes: Vec<String> =
            stats.outcomes.of(d).into_iter().map(|(o, [t, h])| format!("{o} {}", t + h)).collect();
        let ended: u64 = stats.outcomes.ended(d);
        let live = entered.saturating_sub(ended);
        if live > 0 {
            outcomes.push(format!("still live {live}"));
        }
        write!(w, "  {}: entered {entered}, {}", dialogue.id, messages(msgs))?;
        if !outcomes.is_empty() {
            write!(w, "; ended {}", outcomes.join(", "))?;
        }
        writeln!(w)?;
        if entered == 0 {
            continue;
        }
        for (s, step) in dialogue.steps.iter().enumerate() {
            let per_attempt: Vec<String> = stats
                .messages
                .range((d, s, 0)..(d, s + 1, 0))
                .map(|((_, _, a), n)| if *a == 0 { messages(*n) } else { format!("{n} escalation {a}") })
                .collect();
            let exits: Vec<String> = stats
                .branches
                .range((d, BranchAt::Step(s, StepExit::Branch(0)))..=(d, BranchAt::Step(s, StepExit::Timeout)))
                .map(|((_, at), n)| {
                    let label = match at {
                        BranchAt::Step(_, StepExit::Branch(k)) => step.on.get(*k).map_or("?", |b| b.label.as_str()),
                        _ => "no answer",
                    };
                    format!("{label} {n}")
                })
                .collect();
            if per_attempt.is_empty() && exits.is_empty() {
                continue;
            }
            write!(
                w,
                "    step {}: {}",
                step.id,
                if per_attempt.is_empty() { "0 messages".to_owned() } else { per_attempt.join(", ") }
            )?;
            if !exits.is_empty() {
                write!(w, "; left by {}", exits.join(", "))?;
            }
            writeln!(w)?;
        }
        let goals: Vec<String> = stats
            .branches
            .range((d, BranchAt::Goal(0))..=(d, BranchAt::Goal(usize::MAX)))
            .map(|((_, at), n)| {
                let k = match at {
                    BranchAt::Goal(k) => *k,
                    BranchAt::Step(..) => usize::MAX,
                };
                format!("{} {n}", dialogue.goals.get(k).map_or("?", |b| b.label.as_str()))
            })
            .collect();
        if !goals.is_empty() {
            writeln!(w, "    goals reached: {}", goals.join(", "))?;
        }
        for ((k, why), n) in &stats.suppressed {
            if *k == d {
                writeln!(w, "    suppressed {n}: {why}")?;
            }
        }
        if let Some(n) = stats.deferred.get(&d) {
            writeln!(w, "    deferred {n} (send window or cap)")?;
        }
    }
    Ok(())
}
