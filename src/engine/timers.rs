//! The timer service of one customer's replay, as Flink's keyed timers: each dialogue has at
//! most one conversation timer (its live instance's next send or wait) and one absence timer
//! (armed by each order, replaced by the next). Timers are popped in time order; at one
//! instant, conversations in progress go before new absence triggers, then dialogue priority.

/// Which timer of a dialogue fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    Conversation,
    Absence,
}

#[derive(Debug, Clone, Default)]
pub struct Timers {
    /// Per dialogue: when its live instance next needs attention.
    pub conversation: Vec<Option<i64>>,
    /// Per dialogue: when its absence trigger fires if no purchase comes first.
    pub absence: Vec<Option<i64>>,
}

impl Timers {
    pub fn new(dialogues: usize) -> Self {
        Self { conversation: vec![None; dialogues], absence: vec![None; dialogues] }
    }

    /// No timer set, for `dialogues` dialogues, in the buffers already held.
    pub fn reset(&mut self, dialogues: usize) {
        for v in [&mut self.conversation, &mut self.absence] {
            v.clear();
            v.resize(dialogues, None);
        }
    }

    /// The earliest timer due before `t` (or at `t` when `inclusive`), in firing order:
    /// (time, conversation before absence, rank in `order`). `order` lists dialogues by
    /// priority; absence timers are ignored while `projecting` (no new triggers after as-of).
    pub fn next_due(
        &self,
        order: &[usize],
        t: i64,
        inclusive: bool,
        projecting: bool,
    ) -> Option<(i64, TimerKind, usize)> {
        let mut best: Option<(i64, TimerKind, usize, usize)> = None;
        for (rank, &d) in order.iter().enumerate() {
            let mut offer = |due: Option<i64>, kind| {
                if let Some(due) = due {
                    let key = (due, kind, rank, d);
                    if best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
            };
            offer(self.conversation[d], TimerKind::Conversation);
            if !projecting {
                offer(self.absence[d], TimerKind::Absence);
            }
        }
        let (due, kind, _, d) = best?;
        if due > t || (due == t && !inclusive) {
            return None;
        }
        Some((due, kind, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_pop_by_time_then_kind_then_priority() {
        let mut t = Timers::new(3);
        // Priority order: dialogue 2, then 0, then 1.
        let order = [2, 0, 1];
        t.absence[1] = Some(10);
        t.conversation[0] = Some(10);
        t.conversation[2] = Some(20);
        assert_eq!(t.next_due(&order, 100, false, false), Some((10, TimerKind::Conversation, 0)));
        t.conversation[0] = None;
        assert_eq!(t.next_due(&order, 100, false, false), Some((10, TimerKind::Absence, 1)));
        t.absence[1] = None;
        t.conversation[0] = Some(20);
        assert_eq!(
            t.next_due(&order, 100, false, false),
            Some((20, TimerKind::Conversation, 2)),
            "higher priority first"
        );
    }

    #[test]
    fn the_bound_is_exclusive_unless_asked() {
        let mut t = Timers::new(1);
        t.conversation[0] = Some(50);
        assert_eq!(t.next_due(&[0], 50, false, false), None, "an event at the same instant goes first");
        assert_eq!(t.next_due(&[0], 50, true, false), Some((50, TimerKind::Conversation, 0)));
        assert_eq!(t.next_due(&[0], 49, true, false), None);
    }

    #[test]
    fn projection_ignores_absence_timers() {
        let mut t = Timers::new(1);
        t.absence[0] = Some(5);
        assert_eq!(t.next_due(&[0], 10, true, true), None);
        assert_eq!(t.next_due(&[0], 10, true, false), Some((5, TimerKind::Absence, 0)));
    }
}
