//! Dialogue files as written: serde structs with source spans, before any checking.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S = Spanned<String>;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDialogue {
    /// Unique id (letters, digits, `_`, `-`); defaults to the file name.
    #[schemars(with = "Option<String>")]
    pub id: Option<S>,
    /// What the dialogue is for.
    pub description: Option<String>,
    /// Higher runs first when several dialogues fire at the same instant (default 0).
    #[schemars(with = "Option<i64>")]
    pub priority: Option<Spanned<i64>>,
    /// What starts the dialogue. Without one, only another dialogue's `start:` can.
    #[schemars(with = "Option<RawTrigger>")]
    pub trigger: Option<Spanned<RawTrigger>>,
    /// A condition that must hold when the trigger fires, e.g. `spend(365d) >= 2000`.
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
    /// `never` (default), `always`, or a duration after the last run ended (e.g. `180d`).
    #[schemars(with = "Option<String>")]
    pub reentry: Option<S>,
    /// Dialogue ids: while one is live, this one does not start and its messages are suppressed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub quiet_while: Vec<S>,
    /// Events or answers that end the dialogue in any step, with an outcome.
    #[serde(default)]
    #[schemars(with = "Vec<RawBranch>")]
    pub goals: Vec<Spanned<RawBranch>>,
    /// Hold back this share of eligible customers (0 to 1), chosen by a stable hash of customer and
    /// dialogue: the dialogue runs for them but sends nothing, so lift can be measured.
    #[schemars(with = "Option<f64>")]
    pub holdout: Option<Spanned<f64>>,
    /// The conversation; it starts at the first step.
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
    /// A row of the catalogue feed (`--catalog`) of this type, for every customer it matches.
    Announcement(RawAnnouncement),
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
            RawTrigger::Announcement(_) => "announcement",
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWhere {
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNewCategory {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub categories: Vec<S>,
    #[serde(default)]
    pub include_first_order: bool,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLifeChange {
    #[schemars(with = "Vec<String>")]
    pub categories: Spanned<Vec<S>>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFrequent {
    /// `product` or `category` (or any text column of the transactions).
    #[schemars(with = "Option<String>")]
    pub of: Option<S>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub values: Vec<S>,
    #[schemars(with = "i64")]
    pub count: Spanned<i64>,
    #[schemars(with = "Option<String>")]
    pub within: Option<S>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    #[schemars(with = "String")]
    pub measure: S,
    #[schemars(with = "f64")]
    pub reaches: Spanned<f64>,
    #[schemars(with = "Option<String>")]
    pub within: Option<S>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOneAway {
    #[schemars(with = "String")]
    pub measure: S,
    #[schemars(with = "f64")]
    pub target: Spanned<f64>,
    #[schemars(with = "Option<f64>")]
    pub away: Option<Spanned<f64>>,
    #[schemars(with = "Option<String>")]
    pub within: Option<S>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNth {
    #[schemars(with = "OneOrMany")]
    pub n: Spanned<OneOrMany>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAbsence {
    /// A fixed absence: no purchase for this long.
    #[schemars(with = "Option<String>")]
    pub after: Option<S>,
    /// An unprecedented absence: longer than `usual_gap` times the customer's median gap.
    #[schemars(with = "Option<f64>")]
    pub usual_gap: Option<Spanned<f64>>,
    #[schemars(with = "Option<i64>")]
    pub min_orders: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub at_least: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub kind: S,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
}

/// `announcement: {type: arrival, match: 'item.author == customer.favourite_author'}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAnnouncement {
    /// The catalogue rows' `type` (arrival, markdown, back_in_stock, ...), or a list of them.
    #[serde(rename = "type")]
    #[schemars(with = "OneOrManyStr")]
    pub kind: Spanned<OneOrManyStr>,
    /// Which customers a row is for, over `item.*`, `customer.*`, `fact.*` and history.
    /// Equalities between an item and a customer (or fact) value are answered from an index.
    #[serde(rename = "match")]
    #[schemars(with = "Option<String>")]
    pub matcher: Option<S>,
    /// A further condition, tested for the customers the match found.
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
    /// Another further condition (`where:` and `when:` must both hold when both are given).
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSend {
    /// A channel, or channels in order of preference (the first the customer consents to is used).
    #[schemars(with = "OneOrManyStr")]
    pub channel: Spanned<OneOrManyStr>,
    #[schemars(with = "String")]
    pub template: S,
    /// Send this long after the step is entered.
    #[schemars(with = "Option<String>")]
    pub delay: Option<S>,
    /// Send only if this condition over the customer and history holds when the message is
    /// due (e.g. `customer.segment == "premier"`); otherwise it is skipped.
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
    /// Per value tier (from kairos.yaml `tiers:`): another channel and template.
    #[serde(default)]
    pub by_tier: std::collections::BTreeMap<String, RawVariant>,
}

/// A tier's own channel and template.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    #[schemars(with = "OneOrManyStr")]
    pub channel: Spanned<OneOrManyStr>,
    #[schemars(with = "String")]
    pub template: S,
}

/// `channel: email` or `channel: [sms, email]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OneOrManyStr {
    One(String),
    Many(Vec<String>),
}

impl OneOrManyStr {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrManyStr::One(s) => vec![s.clone()],
            OneOrManyStr::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    /// How long after the previous message was actually sent (or, if it was skipped or
    /// suppressed, was due).
    #[schemars(with = "String")]
    pub after: S,
    /// Send this rung only if this condition over the customer and history holds when it is
    /// due; otherwise it is skipped and the ladder goes on with the next rung.
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
    #[schemars(with = "OneOrManyStr")]
    pub channel: Spanned<OneOrManyStr>,
    #[schemars(with = "String")]
    pub template: S,
    #[serde(default)]
    pub by_tier: std::collections::BTreeMap<String, RawVariant>,
}

/// A way out of a waiting step (under `on:`) or out of the whole dialogue (under `goals:`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBranch {
    /// An event type (`purchase` for transactions).
    #[schemars(with = "Option<String>")]
    pub event: Option<S>,
    /// An answer in a response to this dialogue.
    #[schemars(with = "Option<String>")]
    pub answer: Option<S>,
    #[serde(rename = "where")]
    #[schemars(with = "Option<String>")]
    pub cond: Option<S>,
    /// A condition over the customer and history at that moment: the branch is taken only if
    /// it holds too (the first branch whose event or answer matches and whose conditions hold).
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
    #[schemars(with = "Option<String>")]
    pub goto: Option<S>,
    #[schemars(with = "Option<String>")]
    pub end: Option<S>,
    #[schemars(with = "Option<String>")]
    pub outcome: Option<S>,
    #[schemars(with = "Option<String>")]
    pub start: Option<S>,
    /// Facts to remember when this branch is taken: `size: event.size`. Per customer, from
    /// that instant; read as `fact.NAME` in conditions and templates of every dialogue.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub remember: BTreeMap<String, S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTimeout {
    #[schemars(with = "String")]
    pub after: S,
    #[schemars(with = "Option<String>")]
    pub goto: Option<S>,
    #[schemars(with = "Option<String>")]
    pub end: Option<S>,
    #[schemars(with = "Option<String>")]
    pub start: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[schemars(with = "String")]
    pub id: S,
    pub send: Option<RawSend>,
    #[serde(default)]
    #[schemars(with = "Vec<RawBranch>")]
    pub on: Vec<Spanned<RawBranch>>,
    #[serde(default)]
    pub escalate: Vec<RawEscalation>,
    #[schemars(with = "Option<RawTimeout>")]
    pub timeout: Option<Spanned<RawTimeout>>,
    #[schemars(with = "Option<String>")]
    pub wait: Option<S>,
    /// The step to go on to, or choices tried in order: `[{when: COND, goto: STEP}, {end: OUTCOME}]`.
    #[schemars(with = "Option<RawNext>")]
    pub next: Option<Spanned<RawNext>>,
    #[schemars(with = "Option<String>")]
    pub end: Option<S>,
    #[schemars(with = "Option<String>")]
    pub start: Option<S>,
    /// Facts to remember when the step is entered (from the profile or history:
    /// `tier_then: customer.tier`); see a branch's `remember:` for answers.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub remember: BTreeMap<String, S>,
}

/// `next: STEP`, or a list of choices, the first whose `when:` holds taken.
#[derive(Debug, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawNext {
    Step(String),
    Choices(Vec<RawChoice>),
}

/// One way on from a step: taken if its `when:` holds (always, without one).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    /// A condition over the customer and history when the step moves on.
    #[schemars(with = "Option<String>")]
    pub when: Option<S>,
    #[schemars(with = "Option<String>")]
    pub goto: Option<S>,
    #[schemars(with = "Option<String>")]
    pub end: Option<S>,
    #[schemars(with = "Option<String>")]
    pub start: Option<S>,
}

impl<'de> Deserialize<'de> for RawNext {
    /// A step id, or a sequence of choices (read element by element, so each keeps its
    /// source location).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawNext;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a step id, or a list of choices such as [{when: COND, goto: STEP}, {end: OUTCOME}]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawNext, E> {
                Ok(RawNext::Step(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawNext, A::Error> {
                let mut out = Vec::new();
                while let Some(c) = seq.next_element::<RawChoice>()? {
                    out.push(c);
                }
                Ok(RawNext::Choices(out))
            }
        }
        d.deserialize_any(V)
    }
}

// Each number of a list keeps its place in the file, so a problem with one points at it.
/// `n: 4` or `n: [1, 2, 3, 4]`.
#[derive(Debug, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(i64),
    Many(#[schemars(with = "Vec<i64>")] Vec<Spanned<i64>>),
    /// Neither (text, a fraction, a number too large, a mapping): said at its place when lowered.
    #[schemars(skip)]
    Bad,
}

impl OneOrMany {
    /// Each number, with its own place when it is one of a list.
    pub fn items(&self) -> Vec<(i64, Option<&Spanned<i64>>)> {
        match self {
            OneOrMany::One(v) => vec![(*v, None)],
            OneOrMany::Many(v) => v.iter().map(|x| (x.value, Some(x))).collect(),
            OneOrMany::Bad => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number or a list of whole numbers")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                Ok(i64::try_from(v).map_or(OneOrMany::Bad, OneOrMany::One))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<OneOrMany, E> {
                Ok(OneOrMany::Bad)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::Bad)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<OneOrMany, E> {
                Ok(OneOrMany::Bad)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<OneOrMany, E> {
                Ok(OneOrMany::Bad)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OneOrMany, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(OneOrMany::Bad)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Spanned<i64>>()? {
                    out.push(x);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}
