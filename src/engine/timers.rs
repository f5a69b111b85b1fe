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

#[derive(Debug, Clone)]
pub struct Timers {
    /// Per dialogue: when its live instance next needs attention.
    conversation: Vec<Option<i64>>,
    /// Per dialogue: when its absence trigger fires if no purchase comes first.
    absence: Vec<Option<i64>>,
    /// The earliest of each kind (`i64::MAX`: none set), kept exact as timers change. The
    /// replay asks for due timers before every row, and usually none is: the answer is then
    /// one comparison, and when one is due, a look for that instant only.
    earliest: [i64; 2],
}

impl Default for Timers {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Timers {
    pub fn new(dialogues: usize) -> Self {
        Self { conversation: vec![None; dialogues], absence: vec![None; dialogues], earliest: [i64::MAX; 2] }
    }

    /// No timer set, for `dialogues` dialogues, in the buffers already held.
    pub fn reset(&mut self, dialogues: usize) {
        for v in [&mut self.conversation, &mut self.absence] {
            v.clear();
            v.resize(dialogues, None);
        }
        self.earliest = [i64::MAX; 2];
    }

    /// Dialogue `d`'s conversation timer.
    pub fn conversation(&self, d: usize) -> Option<i64> {
        self.conversation[d]
    }

    /// Set (or clear, with None) dialogue `d`'s conversation timer.
    pub fn set_conversation(&mut self, d: usize, due: Option<i64>) {
        self.set(TimerKind::Conversation, d, due);
    }

    /// Set (or clear) dialogue `d`'s absence timer.
    pub fn set_absence(&mut self, d: usize, due: Option<i64>) {
        self.set(TimerKind::Absence, d, due);
    }

    fn set(&mut self, kind: TimerKind, d: usize, due: Option<i64>) {
        let k = kind as usize;
        let list = match kind {
            TimerKind::Conversation => &mut self.conversation,
            TimerKind::Absence => &mut self.absence,
        };
        let old = std::mem::replace(&mut list[d], due);
        match due {
            Some(t) if t <= self.earliest[k] => self.earliest[k] = t,
            // The earliest one moved later or went: the next earliest, from the few timers.
            _ if old == Some(self.earliest[k]) => {
                self.earliest[k] = list.iter().flatten().copied().min().unwrap_or(i64::MAX);
            }
            _ => {}
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
        let [conversation, absence] = self.earliest;
        let due = if projecting { conversation } else { conversation.min(absence) };
        if due > t || (due == t && !inclusive) {
            return None;
        }
        // The first timer of that instant: a conversation before an absence, then priority.
        let at = |list: &[Option<i64>]| order.iter().copied().find(|&d| list[d] == Some(due));
        if conversation == due {
            if let Some(d) = at(&self.conversation) {
                return Some((due, TimerKind::Conversation, d));
            }
        }
        if !projecting && absence == due {
            if let Some(d) = at(&self.absence) {
                return Some((due, TimerKind::Absence, d));
            }
        }
        // Only a dialogue missing from `order` holds it: `order` alone decides what fires.
        self.scan(order, t, inclusive, projecting)
    }

    /// `next_due` by looking at every timer of the dialogues in `order`.
    fn scan(&self, order: &[usize], t: i64, inclusive: bool, projecting: bool) -> Option<(i64, TimerKind, usize)> {
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
        t.set_absence(1, Some(10));
        t.set_conversation(0, Some(10));
        t.set_conversation(2, Some(20));
        assert_eq!(t.next_due(&order, 100, false, false), Some((10, TimerKind::Conversation, 0)));
        t.set_conversation(0, None);
        assert_eq!(t.next_due(&order, 100, false, false), Some((10, TimerKind::Absence, 1)));
        t.set_absence(1, None);
        t.set_conversation(0, Some(20));
        assert_eq!(
            t.next_due(&order, 100, false, false),
            Some((20, TimerKind::Conversation, 2)),
            "higher priority first"
        );
    }

    #[test]
    fn the_bound_is_exclusive_unless_asked() {
        let mut t = Timers::new(1);
        t.set_conversation(0, Some(50));
        assert_eq!(t.next_due(&[0], 50, false, false), None, "an event at the same instant goes first");
        assert_eq!(t.next_due(&[0], 50, true, false), Some((50, TimerKind::Conversation, 0)));
        assert_eq!(t.next_due(&[0], 49, true, false), None);
    }

    /// Timers set, cleared, delayed and fired at random give what a scan of every timer
    /// gives: the kept earliest times never hide a due timer nor pick the wrong one. The
    /// dialogue left out of `order` never fires.
    #[test]
    fn the_earliest_times_never_hide_a_due_timer() {
        let order = [3, 1, 0];
        let mut t = Timers::new(4);
        // The model: every timer as set, scanned in full each time.
        let mut model: [[Option<i64>; 2]; 4] = [[None; 2]; 4];
        let scan = |m: &[[Option<i64>; 2]; 4], at: i64, inclusive: bool, projecting: bool| {
            let mut best: Option<(i64, TimerKind, usize, usize)> = None;
            for (rank, &d) in order.iter().enumerate() {
                for (k, kind) in [TimerKind::Conversation, TimerKind::Absence].into_iter().enumerate() {
                    if let Some(due) = m[d][k].filter(|_| !(projecting && kind == TimerKind::Absence)) {
                        best = best.min(Some((due, kind, rank, d))).or(Some((due, kind, rank, d)));
                    }
                }
            }
            best.filter(|&(due, ..)| due < at || (due == at && inclusive)).map(|(due, kind, _, d)| (due, kind, d))
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut now = 0i64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x % 4) as usize;
            let due = now + (x >> 8) as i64 % 50 - 5;
            match (x >> 16) % 6 {
                0 => {
                    t.set_conversation(d, Some(due));
                    model[d][0] = Some(due);
                }
                1 => {
                    t.set_absence(d, Some(due));
                    model[d][1] = Some(due);
                }
                2 => {
                    t.set_conversation(d, None);
                    model[d][0] = None;
                }
                3 => {
                    t.set_absence(d, None);
                    model[d][1] = None;
                }
                4 => {
                    // A set timer moved later (the earliest may be the one that moves).
                    if let Some(v) = model[d][0] {
                        let later = v + (x >> 24) as i64 % 20;
                        t.set_conversation(d, Some(later));
                        model[d][0] = Some(later);
                    }
                }
                _ => now += (x >> 24) as i64 % 7,
            }
            let (inclusive, projecting) = ((x >> 32) & 1 == 1, (x >> 33).is_multiple_of(5));
            let got = t.next_due(&order, now, inclusive, projecting);
            assert_eq!(got, scan(&model, now, inclusive, projecting), "step {step}");
            assert_eq!(got, t.scan(&order, now, inclusive, projecting), "step {step}");
            // The kept earliest times are exact (else every row would fall back to a scan).
            let min = |k: usize| model.iter().filter_map(|m| m[k]).min().unwrap_or(i64::MAX);
            assert_eq!(t.earliest, [min(0), min(1)], "step {step}");
            // Fire what is due, as the replay does.
            if let Some((_, kind, d)) = got {
                match kind {
                    TimerKind::Conversation => t.set_conversation(d, None),
                    TimerKind::Absence => t.set_absence(d, None),
                }
                model[d][usize::from(kind == TimerKind::Absence)] = None;
            }
        }
    }

    #[test]
    fn projection_ignores_absence_timers() {
        let mut t = Timers::new(1);
        t.set_absence(0, Some(5));
        assert_eq!(t.next_due(&[0], 10, true, true), None);
        assert_eq!(t.next_due(&[0], 10, true, false), Some((5, TimerKind::Absence, 0)));
    }
}
