//! Compiled dialogues: every name resolved to an index, every condition compiled, ready to be
//! evaluated for millions of customers.

use std::path::PathBuf;

use crate::expr::compile::Measure;
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
        measure: Measure,
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
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub tier: Option<String>,
    /// In order of preference; the first with consent is used.
    pub channels: Vec<String>,
    pub template: String,
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
    pub exit: Exit,
    /// `answer: yes` / `event: complaint`: how summaries and explanations name the branch.
    pub label: String,
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
}

#[derive(Debug, Clone)]
pub struct Dialogue {
    pub id: String,
    pub file: PathBuf,
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
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Sorted by id.
    pub dialogues: Vec<Dialogue>,
    /// Indices in trigger evaluation order: priority high to low, then id.
    pub order: Vec<usize>,
}

impl Plan {
    pub fn find(&self, id: &str) -> Option<usize> {
        self.dialogues.binary_search_by(|d| d.id.as_str().cmp(id)).ok()
    }
}

/// `90d`, `12w`, `36h`, `1y`, `1.5d`, `90 days`: seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "h" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 7.0 * 86_400.0,
        "y" | "year" | "years" => 365.0 * 86_400.0,
        _ => return None,
    };
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    Some((value * secs).round() as i64)
}

/// Seconds as the shortest exact duration text (`90d`, `36h`).
pub fn format_duration(secs: i64) -> String {
    if secs % 86_400 == 0 {
        return format!("{}d", secs / 86_400);
    }
    if secs % 3_600 == 0 {
        return format!("{}h", secs / 3_600);
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("36h"), Some(36 * 3_600));
        assert_eq!(parse_duration("1.5d"), Some(129_600));
        assert_eq!(parse_duration("90 days"), Some(90 * 86_400));
        assert_eq!(parse_duration("90"), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(format_duration(90 * 86_400), "90d");
        assert_eq!(format_duration(14 * 86_400), "14d");
        assert_eq!(format_duration(36 * 3_600), "36h");
    }
}
