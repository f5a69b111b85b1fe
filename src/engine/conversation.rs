//! One live dialogue instance as a state machine over its compiled steps: enter a step, send
//! its ladder of messages, wait, time out, follow an exit. Pure: it changes its own state and
//! its timer and reports what happened as `Effect`s, which the engine carries out in order
//! (policy, output, counts, trace, follow-on dialogues).

use crate::dialogue::plan::{After, Cond, Dialogue, Exit};

/// Evaluates a `next:` choice's condition at an instant, given the effects of this call not
/// yet carried out (a step just entered may remember facts the condition reads). The engine
/// reads the customer and history; tests give answers.
pub type Holds<'h> = dyn for<'e> FnMut(&Cond, i64, &[Effect<'e>]) -> bool + 'h;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting to send `ladder[attempt]`.
    Sending,
    /// `ladder[attempt]` handed over, waiting to learn when it goes out (quiet hours, a send
    /// window or a cap may defer it): what follows counts from then.
    Out,
    /// All messages out; waiting for the step's wait/timeout.
    After,
}

/// The state of a live instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// Index of the instance record in the customer's result.
    pub rec: usize,
    pub step: usize,
    pub attempt: usize,
    pub phase: Phase,
    /// The order whose purchase started this instance (its ordinal for the customer): the
    /// other lines of that order are not "the next purchase".
    pub started_by_order: Option<u32>,
    /// Steps entered so far: bounds what a looping dialogue can make one instance do.
    pub visits: u32,
    /// Moves made at the current instant when the machine paused for a send: a loop of steps
    /// without waits is cut however many sends it pauses for.
    depth: u32,
    /// When the message it is paused for was due (handed to the policy).
    pub handed: i64,
}

/// What the machine did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<'p> {
    Entered {
        step: usize,
        at: i64,
    },
    Send {
        step: usize,
        attempt: usize,
        at: i64,
    },
    TimedOut {
        step: usize,
        at: i64,
    },
    /// The step moved on by its `next:` choice number `choice` (its `when:` held).
    Chose {
        step: usize,
        choice: usize,
        at: i64,
    },
    /// The instance ended; `start` is a follow-on dialogue to start now.
    Ended {
        outcome: &'p str,
        start: Option<usize>,
        at: i64,
    },
}

/// Steps that lead to each other without any wait would loop forever at one instant; past
/// this many moves at one instant the instance ends `aborted_loop`.
fn loop_limit(d: &Dialogue) -> usize {
    4 * d.steps.len() + 16
}

pub const ABORTED_LOOP: &str = "aborted_loop";

/// The most steps one instance may enter, however long its waits: a loop with a tiny wait
/// cannot make millions of messages.
pub const MAX_VISITS: u32 = 1000;

impl Live {
    /// A new instance entering its first step at `at`.
    pub fn start<'p>(
        d: &'p Dialogue,
        rec: usize,
        started_by_order: Option<u32>,
        at: i64,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> Option<Live> {
        let mut live =
            Live { rec, step: 0, attempt: 0, phase: Phase::Sending, started_by_order, visits: 0, depth: 0, handed: at };
        live.enter(d, 0, at, 0, due, fx, holds).then_some(live)
    }

    /// The message it paused for (`Effect::Send`, the last effect of a call) goes out at
    /// `at`, the instant it was due: the machine goes on at once. (One deferred goes on when
    /// its timer, set for when it goes out, fires.) Returns false when the instance ended.
    pub fn sent<'p>(
        &mut self,
        d: &'p Dialogue,
        at: i64,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        debug_assert_eq!(self.phase, Phase::Out);
        let depth = self.depth as usize;
        self.went_out(d, at, depth, due, fx, holds)
    }

    /// Paused for the last message before an `end`: nothing is left to do but let it go
    /// out. (Such an instance may give way to a new one: see the engine's `try_start`.)
    pub fn finishing(&self, d: &Dialogue) -> bool {
        let step = &d.steps[self.step];
        self.phase == Phase::Out
            && self.attempt + 1 == step.ladder.len()
            && step.choices.is_empty()
            && step.on.is_empty()
            && matches!(step.after, After::Now(Exit::End { .. }))
    }

    /// Its timer fired at `at`. Returns false when the instance ended.
    pub fn on_timer<'p>(
        &mut self,
        d: &'p Dialogue,
        at: i64,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        self.fire(d, at, 0, due, fx, holds)
    }

    /// Leave the current step by `exit` at `at` (a branch or goal was taken). Returns false
    /// when the instance ended.
    pub fn take<'p>(
        &mut self,
        d: &'p Dialogue,
        exit: &'p Exit,
        at: i64,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        self.exit(d, exit, at, 0, due, fx, holds)
    }

    // The machine's state, where it is, and what it reports to: kept as plain arguments.
    #[allow(clippy::too_many_arguments)]
    fn enter<'p>(
        &mut self,
        d: &'p Dialogue,
        step: usize,
        t: i64,
        depth: usize,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            *due = None;
            fx.push(Effect::Ended { outcome: ABORTED_LOOP, start: None, at: t });
            return false;
        }
        self.step = step;
        self.attempt = 0;
        fx.push(Effect::Entered { step, at: t });
        match d.steps[step].ladder.first() {
            Some(first) => {
                self.phase = Phase::Sending;
                *due = Some(t + first.offset);
                if first.offset == 0 {
                    // Send now rather than through the timer queue, so same-instant ordering
                    // is the dialogue's own.
                    return self.fire(d, t, depth, due, fx, holds);
                }
                true
            }
            None => self.after_ladder(d, t, depth, due, fx, holds),
        }
    }

    fn after_ladder<'p>(
        &mut self,
        d: &'p Dialogue,
        t: i64,
        depth: usize,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        self.phase = Phase::After;
        match &d.steps[self.step].after {
            After::Now(exit) => {
                *due = None;
                let exit = self.choose(d, exit, t, fx, holds);
                self.exit(d, exit, t, depth + 1, due, fx, holds)
            }
            After::Wait(w, _) | After::Timeout(w, _) => {
                *due = Some(t + w);
                true
            }
            After::Forever => {
                *due = None;
                true
            }
        }
    }

    fn fire<'p>(
        &mut self,
        d: &'p Dialogue,
        at: i64,
        depth: usize,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        let step = &d.steps[self.step];
        match self.phase {
            Phase::Sending => {
                fx.push(Effect::Send { step: self.step, attempt: self.attempt, at });
                // Paused until the engine says when the message goes out.
                self.phase = Phase::Out;
                self.handed = at;
                self.depth = u32::try_from(depth).unwrap_or(u32::MAX);
                *due = None;
                true
            }
            Phase::Out => self.went_out(d, at, depth, due, fx, holds),
            Phase::After => {
                *due = None;
                match &step.after {
                    After::Wait(_, exit) => {
                        let exit = self.choose(d, exit, at, fx, holds);
                        self.exit(d, exit, at, depth + 1, due, fx, holds)
                    }
                    After::Timeout(_, exit) => {
                        fx.push(Effect::TimedOut { step: self.step, at });
                        self.exit(d, exit, at, depth + 1, due, fx, holds)
                    }
                    After::Now(_) | After::Forever => true,
                }
            }
        }
    }

    /// `ladder[attempt]` went out at `at`: the next rung, or what comes after the ladder.
    fn went_out<'p>(
        &mut self,
        d: &'p Dialogue,
        at: i64,
        depth: usize,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        self.attempt += 1;
        match d.steps[self.step].ladder.get(self.attempt) {
            Some(next) => {
                self.phase = Phase::Sending;
                *due = Some(at + next.offset);
                true
            }
            None => self.after_ladder(d, at, depth, due, fx, holds),
        }
    }

    /// The way on from the current step: its first `next:` choice whose condition holds at
    /// `t`, else `default`.
    fn choose<'p>(
        &self,
        d: &'p Dialogue,
        default: &'p Exit,
        t: i64,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> &'p Exit {
        let step = &d.steps[self.step];
        match step.choices.iter().position(|(c, _)| holds(c, t, fx)) {
            Some(k) => {
                fx.push(Effect::Chose { step: self.step, choice: k, at: t });
                &step.choices[k].1
            }
            None => default,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn exit<'p>(
        &mut self,
        d: &'p Dialogue,
        exit: &'p Exit,
        t: i64,
        depth: usize,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        if depth > loop_limit(d) {
            *due = None;
            fx.push(Effect::Ended { outcome: ABORTED_LOOP, start: None, at: t });
            return false;
        }
        match exit {
            Exit::Goto(s) => self.enter(d, *s, t, depth, due, fx, holds),
            Exit::End { outcome, start } => {
                *due = None;
                fx.push(Effect::Ended { outcome, start: *start, at: t });
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::test_plan;
    use crate::model::DAY;

    /// No `next:` choice holds.
    fn never(_: &Cond, _: i64, _: &[Effect<'_>]) -> bool {
        false
    }

    fn compact(fx: &[Effect<'_>]) -> String {
        fx.iter()
            .map(|e| match e {
                Effect::Entered { step, at } => format!("enter s{step}@{}", at / DAY),
                Effect::Send { step, attempt, at } => format!("send s{step}/{attempt}@{}", at / DAY),
                Effect::TimedOut { step, at } => format!("timeout s{step}@{}", at / DAY),
                Effect::Chose { step, choice, at } => format!("chose s{step}#{choice}@{}", at / DAY),
                Effect::Ended { outcome, start, at } => {
                    format!("end {outcome}{}@{}", start.map(|s| format!("->{s}")).unwrap_or_default(), at / DAY)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    const ASK: &str = r#"
trigger:
  purchase: {}
steps:
  - id: ask
    send: {channel: email, template: ask}
    escalate:
      - {after: 2d, channel: sms, template: nudge}
    timeout: {after: 3d, goto: call}
    on:
      - {answer: yes, end: agreed}
  - id: call
    send: {channel: phone, template: call, delay: 1d}
    wait: 1d
"#;

    /// The engine's part: every message the machine pauses for goes out when due.
    fn on_time<'p>(live: &mut Live, d: &'p Dialogue, due: &mut Option<i64>, fx: &mut Vec<Effect<'p>>) -> bool {
        on_time_with(live, d, due, fx, &mut never)
    }

    fn on_time_with<'p>(
        live: &mut Live,
        d: &'p Dialogue,
        due: &mut Option<i64>,
        fx: &mut Vec<Effect<'p>>,
        holds: &mut Holds<'_>,
    ) -> bool {
        while live.phase == Phase::Out {
            let Some(&Effect::Send { at, .. }) = fx.last() else { panic!("paused without a send: {fx:?}") };
            if !live.sent(d, at, due, fx, holds) {
                return false;
            }
        }
        true
    }

    #[test]
    fn a_ladder_sends_escalates_times_out_and_moves_on() {
        let plan = test_plan(&[("a", ASK)]);
        let d = &plan.dialogues[0];
        let (mut fx, mut due) = (Vec::new(), None);
        let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut never).unwrap();
        assert_eq!(compact(&fx), "enter s0@0, send s0/0@0");
        assert_eq!((live.phase, due), (Phase::Out, None), "it waits to hear when the message goes out");
        assert!(on_time(&mut live, d, &mut due, &mut fx));
        assert_eq!(due, Some(2 * DAY), "the escalation is 2 days after the first message");
        fx.clear();
        assert!(live.on_timer(d, 2 * DAY, &mut due, &mut fx, &mut never));
        assert!(on_time(&mut live, d, &mut due, &mut fx));
        assert_eq!(compact(&fx), "send s0/1@2");
        assert_eq!((live.phase, due), (Phase::After, Some(5 * DAY)), "the timeout counts from the last message");
        fx.clear();
        assert!(live.on_timer(d, 5 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "timeout s0@5, enter s1@5");
        assert_eq!(due, Some(6 * DAY), "a delayed message waits for its timer");
        fx.clear();
        assert!(live.on_timer(d, 6 * DAY, &mut due, &mut fx, &mut never));
        assert!(on_time(&mut live, d, &mut due, &mut fx));
        assert!(!live.on_timer(d, 7 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "send s1/0@6, end completed@7");
        assert_eq!(due, None);
    }

    #[test]
    fn what_follows_a_deferred_message_counts_from_when_it_goes_out() {
        let plan = test_plan(&[(
            "a",
            r#"
trigger:
  purchase: {}
steps:
  - id: note
    send: {channel: email, template: a}
    escalate:
      - {after: 1d, channel: sms, template: b}
  - id: call
    send: {channel: phone, template: c}
"#,
        )]);
        let d = &plan.dialogues[0];
        let (mut fx, mut due) = (Vec::new(), None);
        let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut never).unwrap();
        assert_eq!((live.phase, due), (Phase::Out, None));
        // The engine deferred the email by 2 days: the machine goes on when its timer fires.
        fx.clear();
        assert!(live.on_timer(d, 2 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!((fx.len(), due), (0, Some(3 * DAY)), "the escalation is a day after the real send");
        assert!(live.on_timer(d, 3 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "send s0/1@3");
        // The sms is deferred a day too: the next step, which has no wait, starts when it goes
        // out. Its message is the last before the end: the instance waits for it, finishing.
        fx.clear();
        assert!(live.on_timer(d, 4 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "enter s1@4, send s1/0@4");
        assert!(live.finishing(d));
        assert!(!live.on_timer(d, 5 * DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "enter s1@4, send s1/0@4, end completed@5", "it ends when that goes out");
    }

    const CHOOSE: &str = r#"
trigger:
  purchase: {}
steps:
  - id: reminder
    send: {channel: email, template: r}
    wait: 3d
    next:
      - {when: 'customer.segment == "premier"', goto: call}
      - {when: 'customer.segment == "gold"', end: gold}
      - {end: no_answer}
  - id: call
    send: {channel: phone, template: call}
"#;

    #[test]
    fn next_takes_the_first_choice_whose_when_holds_else_the_last() {
        let plan = test_plan(&[("a", CHOOSE)]);
        let d = &plan.dialogues[0];
        let run = |answers: [bool; 2]| {
            let (mut fx, mut due) = (Vec::new(), None);
            let mut asked = Vec::new();
            let mut holds = |c: &Cond, t: i64, _: &[Effect<'_>]| {
                asked.push((c.src.clone(), t / DAY));
                let k = d.steps[0].choices.iter().position(|(x, _)| x.src == c.src).unwrap();
                answers[k]
            };
            let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut holds).unwrap();
            assert!(on_time_with(&mut live, d, &mut due, &mut fx, &mut holds));
            if live.on_timer(d, 3 * DAY, &mut due, &mut fx, &mut holds) {
                on_time_with(&mut live, d, &mut due, &mut fx, &mut holds);
            }
            (compact(&fx), asked.len())
        };
        assert_eq!(
            run([true, true]),
            ("enter s0@0, send s0/0@0, chose s0#0@3, enter s1@3, send s1/0@3, end completed@3".into(), 1)
        );
        assert_eq!(run([false, true]), ("enter s0@0, send s0/0@0, chose s0#1@3, end gold@3".into(), 2));
        assert_eq!(run([false, false]), ("enter s0@0, send s0/0@0, end no_answer@3".into(), 2));
    }

    #[test]
    fn a_branch_exit_ends_the_instance() {
        let plan = test_plan(&[("a", ASK)]);
        let d = &plan.dialogues[0];
        let (mut fx, mut due) = (Vec::new(), None);
        let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut never).unwrap();
        assert!(on_time(&mut live, d, &mut due, &mut fx));
        fx.clear();
        let exit = &d.steps[0].on[0].exit;
        assert!(!live.take(d, exit, DAY, &mut due, &mut fx, &mut never));
        assert_eq!(compact(&fx), "end agreed@1");
        assert_eq!(due, None);
    }

    #[test]
    fn steps_without_waits_run_at_one_instant_and_a_loop_is_cut() {
        // `check` refuses this dialogue; the engine still cuts the loop if one gets through.
        let (plan, diags) = crate::dialogue::test_plan_with_diagnostics(&[(
            "loop",
            "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n    next: b\n  - id: b\n    next: a\n",
        )]);
        assert_eq!(diags.0[0].message, "steps `a` → `b` → `a` loop without any wait");
        let d = &plan.dialogues[0];
        let (mut fx, mut due) = (Vec::new(), None);
        let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut never).unwrap();
        assert!(!on_time(&mut live, d, &mut due, &mut fx), "the loop is cut at one instant");
        let sends = fx.iter().filter(|e| matches!(e, Effect::Send { .. })).count();
        assert!(sends > 1 && sends < 30, "{sends}");
        assert_eq!(fx.last(), Some(&Effect::Ended { outcome: ABORTED_LOOP, start: None, at: 0 }));
    }

    #[test]
    fn a_loop_with_a_tiny_wait_stops_after_max_visits() {
        let plan = test_plan(&[(
            "loop",
            "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n    wait: 0.001h\n    next: a\n",
        )]);
        let d = &plan.dialogues[0];
        let (mut fx, mut due) = (Vec::new(), None);
        let mut live = Live::start(d, 0, None, 0, &mut due, &mut fx, &mut never).unwrap();
        assert!(on_time(&mut live, d, &mut due, &mut fx));
        let mut fired = 0;
        while let Some(at) = due {
            if !live.on_timer(d, at, &mut due, &mut fx, &mut never) || !on_time(&mut live, d, &mut due, &mut fx) {
                break;
            }
            fired += 1;
            assert!(fired < 10 * MAX_VISITS as usize, "the loop was not cut");
        }
        let sends = fx.iter().filter(|e| matches!(e, Effect::Send { .. })).count();
        assert_eq!(sends, MAX_VISITS as usize);
        assert!(matches!(fx.last(), Some(Effect::Ended { outcome: ABORTED_LOOP, .. })));
    }
}
