//! The run summary on stderr: what was read, what each dialogue did, and data warnings.

use std::io::{self, Write};

use crate::dialogue::Plan;
use crate::engine::{BranchAt, Stats, StepExit, Warning};
use crate::input::time::format_utc;
use crate::input::Data;
use crate::model::TableKind;

const MAX_WARNINGS: usize = 20;

#[allow(clippy::too_many_arguments)]
pub fn print(
    w: &mut dyn Write,
    data: &Data,
    plan: &Plan,
    stats: &Stats,
    warnings: &[Warning],
    as_of: i64,
    written: u64,
) -> io::Result<()> {
    let mut warnings: Vec<(TableKind, u32, &str)> =
        warnings.iter().map(|w| (w.table, w.line, w.message.as_str())).collect();
    warnings.sort();
    let path = |t: TableKind| {
        let table = match t {
            TableKind::Events => data.events.as_ref(),
            TableKind::Customers => data.customers.as_ref(),
            TableKind::Transactions => Some(&data.tx),
        };
        table.map_or_else(|| t.name().to_owned(), |t| t.path.display().to_string())
    };
    for (table, line, msg) in warnings.iter().take(MAX_WARNINGS) {
        writeln!(w, "warning: {}:{line}: {msg}", path(*table))?;
    }
    if warnings.len() > MAX_WARNINGS {
        writeln!(w, "warning: … and {} more data warnings", warnings.len() - MAX_WARNINGS)?;
    }
    writeln!(
        w,
        "kairos: {} customers ({} with profiles), {} transactions, {} events up to {}; {} messages written",
        stats.customers,
        data.profile_count,
        stats.transactions,
        stats.events,
        format_utc(as_of),
        written
    )?;
    for (d, dialogue) in plan.dialogues.iter().enumerate() {
        let entered = stats.entered.get(&d).copied().unwrap_or(0);
        let msgs: u64 = stats.messages.range((d, 0, 0)..(d + 1, 0, 0)).map(|(_, v)| v).sum();
        let outcomes: Vec<String> =
            stats.outcomes.iter().filter(|((k, _), _)| *k == d).map(|((_, o), n)| format!("{o} {n}")).collect();
        let ended: u64 = stats.outcomes.iter().filter(|((k, _), _)| *k == d).map(|(_, n)| n).sum();
        let live = entered.saturating_sub(ended);
        write!(w, "  {:<28} entered {:>6}  messages {:>7}", dialogue.id, entered, msgs)?;
        if !outcomes.is_empty() || live > 0 {
            let mut parts = outcomes;
            if live > 0 {
                parts.push(format!("live {live}"));
            }
            write!(w, "  outcomes: {}", parts.join(", "))?;
        }
        writeln!(w)?;
        if entered == 0 {
            continue;
        }
        for (s, step) in dialogue.steps.iter().enumerate() {
            let per_attempt: Vec<String> = stats
                .messages
                .range((d, s, 0)..(d, s + 1, 0))
                .map(|((_, _, a), n)| if *a == 0 { format!("{n}") } else { format!("+{n} escalation {a}") })
                .collect();
            let branches: Vec<String> = stats
                .branches
                .range((d, BranchAt::Step(s, StepExit::Branch(0)))..=(d, BranchAt::Step(s, StepExit::Timeout)))
                .map(|((_, at), n)| {
                    let label = match at {
                        BranchAt::Step(_, StepExit::Branch(k)) => step.on.get(*k).map_or("?", |b| b.label.as_str()),
                        _ => "timeout",
                    };
                    format!("{label} {n}")
                })
                .collect();
            if per_attempt.is_empty() && branches.is_empty() {
                continue;
            }
            write!(
                w,
                "    step {:<24} messages {}",
                step.id,
                if per_attempt.is_empty() { "0".to_owned() } else { per_attempt.join(" ") }
            )?;
            if !branches.is_empty() {
                write!(w, "; {}", branches.join(", "))?;
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
            writeln!(w, "    goals: {}", goals.join(", "))?;
        }
        for ((k, why), n) in &stats.suppressed {
            if *k == d {
                writeln!(w, "    suppressed {n}: {why}")?;
            }
        }
    }
    if stats.unmatched_responses > 0 {
        writeln!(
            w,
            "  {} responses matched no open question (the dialogue had moved on or ended)",
            stats.unmatched_responses
        )?;
    }
    Ok(())
}
