//! A dialogue's funnel from the engine's counts: entered → each step's messages and
//! escalations → the ways each step was left → goals → outcomes by as-of. Nothing is
//! recomputed: every number is one `Stats` holds.

use crate::dialogue::plan::{After, Dialogue};
use crate::engine::{BranchAt, Stats, StepExit};
use crate::model::format_duration;

/// One row of a funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 0: the dialogue; 1: a step; 2: inside a step.
    pub depth: u8,
    /// A stable key for tests and the DOM: `entered`, `msg:STEP:ATTEMPT`, `exit:STEP:LABEL`,
    /// `goal:LABEL`, `outcome:NAME`, `live`.
    pub key: String,
    pub label: String,
    pub n: u64,
}

/// The funnel of dialogue `d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub entered: u64,
    pub rows: Vec<Row>,
}

/// The funnel of dialogue `d` as the engine counted it.
pub fn build(stats: &Stats, d: usize, dialogue: &Dialogue) -> Funnel {
    let entered = stats.entered.get(&d).copied().unwrap_or(0);
    let mut rows = vec![Row { depth: 0, key: "entered".into(), label: "entered the dialogue".into(), n: entered }];
    for (s, step) in dialogue.steps.iter().enumerate() {
        let first = stats.messages.get(&(d, s, 0)).copied().unwrap_or(0);
        let what = step.ladder.first().map(|m| m.label()).unwrap_or_else(|| "no message".into());
        rows.push(Row {
            depth: 1,
            key: format!("msg:{}:0", step.id),
            label: format!("step {}: {what}", step.id),
            n: first,
        });
        for (a, m) in step.ladder.iter().enumerate().skip(1) {
            let n = stats.messages.get(&(d, s, a)).copied().unwrap_or(0);
            rows.push(Row {
                depth: 2,
                key: format!("msg:{}:{a}", step.id),
                label: format!("escalation {a} after {}: {}{}", format_duration(m.offset), m.label(), m.when_label()),
                n,
            });
        }
        for (k, b) in step.on.iter().enumerate() {
            let n = stats.branches.get(&(d, BranchAt::Step(s, StepExit::Branch(k)))).copied().unwrap_or(0);
            rows.push(Row {
                depth: 2,
                key: format!("exit:{}:{}", step.id, b.label),
                label: format!("→ {}", b.label),
                n,
            });
        }
        if let After::Timeout(w, _) = step.after {
            let n = stats.branches.get(&(d, BranchAt::Step(s, StepExit::Timeout))).copied().unwrap_or(0);
            rows.push(Row {
                depth: 2,
                key: format!("exit:{}:timeout", step.id),
                label: format!("→ no answer in {}", format_duration(w)),
                n,
            });
        }
    }
    for (k, g) in dialogue.goals.iter().enumerate() {
        let n = stats.branches.get(&(d, BranchAt::Goal(k))).copied().unwrap_or(0);
        rows.push(Row { depth: 1, key: format!("goal:{}", g.label), label: format!("goal: {}", g.label), n });
    }
    let mut ended = 0;
    for (outcome, [treated, held_out]) in stats.outcomes.of(d) {
        let n = treated + held_out;
        ended += n;
        rows.push(Row { depth: 1, key: format!("outcome:{outcome}"), label: format!("ended {outcome}"), n });
    }
    rows.push(Row {
        depth: 1,
        key: "live".into(),
        label: "still live at as-of".into(),
        n: entered.saturating_sub(ended),
    });
    Funnel { entered, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funnel_lists_every_count_of_the_dialogue_in_order() {
        let plan = crate::dialogue::test_plan(&[(
            "a",
            "trigger:\n  purchase: {}\ngoals:\n  - {event: purchase, outcome: bought}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    escalate:\n      - {after: 2d, channel: sms, template: nudge}\n    on:\n      - {answer: yes, end: agreed}\n    timeout: {after: 3d, end: lapsed}\n",
        )]);
        let mut stats = Stats::default();
        stats.entered.insert(0, 10);
        stats.messages.insert((0, 0, 0), 9);
        stats.messages.insert((0, 0, 1), 4);
        stats.branches.insert((0, BranchAt::Step(0, StepExit::Branch(0))), 3);
        stats.branches.insert((0, BranchAt::Step(0, StepExit::Timeout)), 4);
        stats.branches.insert((0, BranchAt::Goal(0)), 2);
        stats.outcomes.add(0, false, "agreed", 3);
        stats.outcomes.add(0, false, "bought", 2);
        stats.outcomes.add(0, false, "lapsed", 4);
        // Another dialogue's counts stay out.
        stats.outcomes.add(1, true, "other", 7);
        let f = build(&stats, 0, &plan.dialogues[0]);
        let got: Vec<String> = f.rows.iter().map(|r| format!("{} {} {}", r.depth, r.key, r.n)).collect();
        assert_eq!(
            got,
            [
                "0 entered 10",
                "1 msg:ask:0 9",
                "2 msg:ask:1 4",
                "2 exit:ask:answer yes 3",
                "2 exit:ask:timeout 4",
                "1 goal:purchase 2",
                "1 outcome:agreed 3",
                "1 outcome:bought 2",
                "1 outcome:lapsed 4",
                "1 live 1",
            ]
        );
        assert_eq!(f.rows[2].label, "escalation 1 after 2d: sms: nudge");
    }
}
