//! Compiled dialogues: every name resolved to an index, every condition compiled, ready to be
//! evaluated for millions of customers.

use std::path::PathBuf;

use crate::expr::Ir;

/// A compiled condition and the text it came from (for explanations).
#[derive(Debug, Clone)]
pub struct Cond {
    pub src: String,
    pub ir: Ir,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    Purchase {
        cond: Option<Cond>,
    },
    /// `new_category` and `life_change`.
    NewCategory {
        categories: Vec<String>,
        include_first_order: bool,
        cond: Option<Cond>,
    },
    /// `frequent_buyer` and `vip`: `count` lines with the same value of column `of` in `within`.
    Frequent {
        of: String,
        values: Vec<String>,
        count: u32,
        within: Option<i64>,
        cond: Option<Cond>,
    },
    /// Fires when `value` goes from below `level` to at least `level`, and (for one_away)
    /// stays below `cap`.
    Crossing {
        /// The measure's name as written (`spend`, `tier_credits`).
        measure: String,
        value: Ir,
        level: f64,
        cap: Option<f64>,
        target: f64,
    },
    NthOrder {
        n: Vec<u32>,
        cond: Option<Cond>,
    },
    Absence(Absence),
    Event {
        kind: String,
        cond: Option<Cond>,
    },
    /// A catalogue row of one of the types `kinds` for every customer `matcher` holds for.
    Announcement {
        kinds: Vec<String>,
        matcher: Option<Cond>,
        cond: Option<Cond>,
        /// How the match is answered from an index (None: every row is tested: a scan).
        index: Option<super::announce::IndexPlan>,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum Absence {
    Fixed { after: i64 },
    Usual { factor: f64, min_orders: u32, at_least: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reentry {
    Never,
    Always,
    After(i64),
}

/// One message of a step: a default variant and variants per value tier.
#[derive(Debug, Clone)]
pub struct Msg {
    /// `variants[0]` is the default; the others apply to their tier.
    pub variants: Vec<Variant>,
    /// Seconds after the step is entered (the step's own message) or after the previous
    /// message (escalations).
    pub offset: i64,
    /// Sent only if this holds when the message is due; skipped otherwise.
    pub when: Option<Cond>,
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub tier: Option<String>,
    /// In order of preference; the first with consent is used.
    pub channels: Vec<String>,
    pub template: String,
    /// Where the template key is written in the dialogue's file (`Dialogue::source`).
    pub template_at: std::ops::Range<usize>,
}

impl Msg {
    /// A short description for graphs: the default variant.
    pub fn label(&self) -> String {
        let v = &self.variants[0];
        let mut s = format!("{}: {}", v.channels.join("|"), v.template);
        for t in &self.variants[1..] {
            s.push_str(&format!("; {}: {}: {}", t.tier.as_deref().unwrap_or(""), t.channels.join("|"), t.template));
        }
        s
    }

    /// ` if COND` for a message with a `when:`, else nothing.
    pub fn when_label(&self) -> String {
        self.when.as_ref().map(|w| format!(" if {}", w.src)).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub enum Exit {
    Goto(usize),
    End { outcome: String, start: Option<usize> },
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Purchase,
    Event(String),
    Answer(String),
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub matcher: Matcher,
    pub cond: Option<Cond>,
    /// Over the customer and history at that moment (no event): must hold too.
    pub when: Option<Cond>,
    pub exit: Exit,
    /// `answer: yes` / `event: complaint`: how summaries and explanations name the branch.
    pub label: String,
    /// Facts remembered when the branch is taken: (index into `Plan::facts`, value).
    pub remember: Vec<(usize, Cond)>,
}

/// What a step does once its messages are out.
#[derive(Debug, Clone)]
pub enum After {
    /// Leave at once.
    Now(Exit),
    /// A plain pause.
    Wait(i64, Exit),
    /// Wait for an answer; leave this way if none comes.
    Timeout(i64, Exit),
    /// Wait for an answer or a goal, however long it takes.
    Forever,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    /// The step's message (attempt 0) and its escalations (attempts 1..).
    pub ladder: Vec<Msg>,
    pub on: Vec<Branch>,
    pub after: After,
    /// `next:` choices, tried in order when the step moves on (`After::Now` or `Wait`): the
    /// first whose condition holds is taken, else the exit in `after`.
    pub choices: Vec<(Cond, Exit)>,
    /// Facts remembered when the step is entered.
    pub remember: Vec<(usize, Cond)>,
}

#[derive(Debug, Clone)]
pub struct Dialogue {
    pub id: String,
    pub file: PathBuf,
    /// The file's text, for problems found later at a place in it (a template it names).
    pub source: std::sync::Arc<str>,
    pub description: String,
    pub priority: i64,
    pub trigger_kind: &'static str,
    pub trigger: Option<Trigger>,
    pub when: Option<Cond>,
    pub reentry: Reentry,
    pub quiet_while: Vec<usize>,
    pub goals: Vec<Branch>,
    pub steps: Vec<Step>,
    /// Share of customers held back (0 = none).
    pub holdout: f64,
    /// The event types the trigger and the branches wait for, each where it is written (a
    /// located diagnostic without its message): checked against the events file's types.
    pub event_types: Vec<(String, crate::diag::Diagnostic)>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Sorted by id.
    pub dialogues: Vec<Dialogue>,
    /// Indices in trigger evaluation order: priority high to low, then id.
    pub order: Vec<usize>,
    /// The names of the facts dialogues remember (`remember:`), sorted, for `fact.*`.
    pub facts: Vec<String>,
}

impl Plan {
    pub fn find(&self, id: &str) -> Option<usize> {
        self.dialogues.binary_search_by(|d| d.id.as_str().cmp(id)).ok()
    }
}
