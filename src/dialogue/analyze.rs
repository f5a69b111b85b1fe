//! Whole-dialogue analysis over the compiled plan: which steps can be reached, which
//! dialogues start which.

use super::plan::{After, Dialogue, Exit, Reentry, Step};

/// Per step: can the conversation get there from the first step?
pub fn reachable(steps: &[Step]) -> Vec<bool> {
    let mut seen = vec![false; steps.len()];
    let mut todo = vec![0usize];
    while let Some(i) = todo.pop() {
        if i >= steps.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        let s = &steps[i];
        let choices = s.choices.iter().map(|(_, e)| e);
        todo.extend(s.on.iter().map(|b| &b.exit).chain(s.after.exit()).chain(choices).filter_map(|e| match e {
            Exit::Goto(t) => Some(*t),
            Exit::End { .. } => None,
        }));
    }
    seen
}

/// A cycle of steps that follow each other with no time passing (no delay, no escalation
/// offset, no wait or timeout longer than zero), as step indices from the first step of the
/// cycle back to it; None if there is none. Such a loop would send without end at one instant.
pub fn instant_cycle(steps: &[Step]) -> Option<Vec<usize>> {
    // The steps each step moves on to at once, if it does: its exit and its `next:` choices.
    let next: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| {
            instant_exits(s)
                .into_iter()
                .filter_map(|e| match e {
                    Exit::Goto(t) => Some(*t),
                    Exit::End { .. } => None,
                })
                .collect()
        })
        .collect();
    first_cycle(&next)
}

/// In the graph `next` (node -> the nodes it leads to), the first cycle found depth-first from
/// each node in turn, as the nodes from its first back to it (the first repeated at the end);
/// None if there is none.
fn first_cycle(next: &[Vec<usize>]) -> Option<Vec<usize>> {
    for start in 0..next.len() {
        let mut path = vec![start];
        let mut todo: Vec<(usize, usize)> = vec![(start, 0)];
        let mut seen = vec![false; next.len()];
        seen[start] = true;
        while let Some(&mut (at, ref mut k)) = todo.last_mut() {
            let Some(&n) = next[at].get(*k) else {
                todo.pop();
                path.pop();
                continue;
            };
            *k += 1;
            if n == start {
                path.push(start);
                return Some(path);
            }
            if n < next.len() && !seen[n] {
                seen[n] = true;
                path.push(n);
                todo.push((n, 0));
            }
        }
    }
    None
}

/// The exits a step takes at once, with no time passing: none if it has a delay or an
/// escalation offset, else its own exit when it leaves now (or after a zero wait or timeout)
/// and its `next:` choices.
fn instant_exits(s: &Step) -> Vec<&Exit> {
    if s.ladder.iter().any(|m| m.offset > 0) {
        return Vec::new();
    }
    let exit = match &s.after {
        After::Now(e) => e,
        After::Wait(w, e) | After::Timeout(w, e) if *w == 0 => e,
        _ => return Vec::new(),
    };
    let choices = match &s.after {
        After::Now(_) | After::Wait(..) => s.choices.iter().map(|(_, e)| e).collect(),
        _ => Vec::new(),
    };
    std::iter::once(exit).chain(choices).collect()
}

/// The dialogues `d` starts at the very instant it starts: follow-ons (`start:`) of the ends
/// its first step reaches with no time passing.
fn instant_follow_ons(d: &Dialogue) -> Vec<usize> {
    let mut seen = vec![false; d.steps.len()];
    let (mut todo, mut out) = (vec![0usize], Vec::new());
    while let Some(i) = todo.pop() {
        if i >= d.steps.len() || std::mem::replace(&mut seen[i], true) {
            continue;
        }
        for e in instant_exits(&d.steps[i]) {
            match e {
                Exit::Goto(t) => todo.push(*t),
                Exit::End { start: Some(n), .. } => out.push(*n),
                Exit::End { .. } => {}
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Dialogues that start each other at one instant without end: each ends at once and starts
/// the next, and each may start again at once (`reentry: always`, no `when:` that could stop
/// it). As dialogue indices from the first of the cycle back to it (repeated at the end);
/// None if there is none.
/// (The engine stops such a loop at a limit; `check` reports it instead.)
pub fn follow_on_cycle(ds: &[Dialogue]) -> Option<Vec<usize>> {
    let loops = |d: &Dialogue| matches!(d.reentry, Reentry::Always | Reentry::After(0)) && d.when.is_none();
    let next: Vec<Vec<usize>> = ds
        .iter()
        .map(|d| {
            if loops(d) {
                instant_follow_ons(d).into_iter().filter(|&n| ds.get(n).is_some_and(loops)).collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    first_cycle(&next)
}

/// Does dialogue `d` start dialogue `target` as a follow-on anywhere?
pub fn starts(d: &Dialogue, target: usize) -> bool {
    let hit = |e: &Exit| matches!(e, Exit::End { start: Some(t), .. } if *t == target);
    d.goals.iter().any(|b| hit(&b.exit))
        || d.steps.iter().any(|s| {
            s.on.iter().any(|b| hit(&b.exit))
                || s.after.exit().is_some_and(hit)
                || s.choices.iter().any(|(_, e)| hit(e))
        })
}

impl After {
    /// The step's own way out once it is done, if it has one.
    pub fn exit(&self) -> Option<&Exit> {
        match self {
            After::Now(e) | After::Wait(_, e) | After::Timeout(_, e) => Some(e),
            After::Forever => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::test_plan;

    #[test]
    fn finds_unreachable_steps_and_follow_ons() {
        let plan = test_plan(&[
            (
                "a",
                "trigger:\n  purchase: {}\nsteps:\n  - id: one\n    send: {channel: email, template: t}\n    end: done\n  - id: two\n    send: {channel: email, template: t}\n    end: done\n",
            ),
            (
                "b",
                "trigger:\n  purchase: {}\nsteps:\n  - id: x\n    send: {channel: email, template: t}\n    timeout: {after: 3d, end: lapsed, start: c}\n    on:\n      - {answer: yes, goto: y}\n  - id: y\n    send: {channel: email, template: t}\n",
            ),
            ("c", "steps:\n  - id: z\n    send: {channel: email, template: t}\n"),
        ]);
        assert_eq!(reachable(&plan.dialogues[0].steps), [true, false]);
        assert_eq!(reachable(&plan.dialogues[1].steps), [true, true]);
        assert!(starts(&plan.dialogues[1], 2));
        assert!(!starts(&plan.dialogues[0], 2));
        assert_eq!(instant_cycle(&plan.dialogues[1].steps), None);
    }
}
