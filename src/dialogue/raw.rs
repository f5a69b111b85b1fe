//! Dialogue files as written: serde structs with source spans, before any checking.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDialogue {
    pub id: Option<S>,
    pub description: Option<String>,
    pub priority: Option<Spanned<i64>>,
    pub trigger: Option<Spanned<RawTrigger>>,
    pub when: Option<S>,
    pub reentry: Option<S>,
    #[serde(default)]
    pub quiet_while: Vec<S>,
    #[serde(default)]
    pub goals: Vec<Spanned<RawBranch>>,
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawTrigger {
    /// Any purchase line (optionally filtered).
    Purchase(#[serde(default)] RawWhere),
    /// A purchase in a category the customer has never bought before.
    NewCategory(#[serde(default)] RawNewCategory),
    /// The first purchase in a category that marks a life change (baby, renovation...).
    LifeChange(RawLifeChange),
    /// N purchases of the same product or category within a window.
    FrequentBuyer(RawFrequent),
    /// A target number of purchases of a product within a year.
    Vip(RawFrequent),
    /// A cumulative measure crosses a threshold.
    Threshold(RawThreshold),
    /// A measure comes within `away` of a threshold.
    OneAway(RawOneAway),
    /// The customer's Nth order.
    NthOrder(RawNth),
    /// No purchase for a while.
    Absence(RawAbsence),
    /// An `address_change` event.
    AddressChange(#[serde(default)] RawWhere),
    /// Any event type from the events file.
    Event(RawEvent),
}

impl RawTrigger {
    pub fn kind(&self) -> &'static str {
        match self {
            RawTrigger::Purchase(_) => "purchase",
            RawTrigger::NewCategory(_) => "new_category",
            RawTrigger::LifeChange(_) => "life_change",
            RawTrigger::FrequentBuyer(_) => "frequent_buyer",
            RawTrigger::Vip(_) => "vip",
            RawTrigger::Threshold(_) => "threshold",
            RawTrigger::OneAway(_) => "one_away",
            RawTrigger::NthOrder(_) => "nth_order",
            RawTrigger::Absence(_) => "absence",
            RawTrigger::AddressChange(_) => "address_change",
            RawTrigger::Event(_) => "event",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhere {
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNewCategory {
    #[serde(default)]
    pub categories: Vec<S>,
    #[serde(default)]
    pub include_first_order: bool,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifeChange {
    pub categories: Spanned<Vec<S>>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrequent {
    /// `product` or `category` (or any text column of the transactions).
    pub of: Option<S>,
    #[serde(default)]
    pub values: Vec<S>,
    pub count: Spanned<i64>,
    pub within: Option<S>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub measure: S,
    pub reaches: Spanned<f64>,
    pub within: Option<S>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOneAway {
    pub measure: S,
    pub target: Spanned<f64>,
    pub away: Option<Spanned<f64>>,
    pub within: Option<S>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNth {
    pub n: Spanned<OneOrMany>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAbsence {
    /// A fixed absence: no purchase for this long.
    pub after: Option<S>,
    /// An unprecedented absence: longer than `usual_gap` times the customer's median gap.
    pub usual_gap: Option<Spanned<f64>>,
    pub min_orders: Option<Spanned<i64>>,
    pub at_least: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    #[serde(rename = "type")]
    pub kind: S,
    #[serde(rename = "where")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSend {
    pub channel: S,
    pub template: S,
    pub delay: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    pub after: S,
    pub channel: S,
    pub template: S,
}

/// A way out of a waiting step (under `on:`) or out of the whole dialogue (under `goals:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBranch {
    /// An event type (`purchase` for transactions).
    pub event: Option<S>,
    /// An answer in a response to this dialogue.
    pub answer: Option<S>,
    #[serde(rename = "where")]
    pub cond: Option<S>,
    pub goto: Option<S>,
    pub end: Option<S>,
    pub outcome: Option<S>,
    pub start: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeout {
    pub after: S,
    pub goto: Option<S>,
    pub end: Option<S>,
    pub start: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: S,
    pub send: Option<RawSend>,
    #[serde(default)]
    pub on: Vec<Spanned<RawBranch>>,
    #[serde(default)]
    pub escalate: Vec<RawEscalation>,
    pub timeout: Option<Spanned<RawTimeout>>,
    pub wait: Option<S>,
    pub next: Option<S>,
    pub end: Option<S>,
    pub start: Option<S>,
}

/// `n: 4` or `n: [1, 2, 3, 4]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(i64),
    Many(Vec<i64>),
}

impl OneOrMany {
    pub fn as_slice(&self) -> &[i64] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}
