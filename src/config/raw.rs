//! `kairos.yaml` as written: every serde type of the project config, with source spans.
//! Closed sets (field types, measures, `on_cap`, consent defaults, weekdays) and durations are
//! read as `Typed` values: parsed by their one parser, reported by `check` with location.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::model::{Duration, FieldType, Measure, Weekday};
use crate::policy::{ConsentDefault, OnCap};
use crate::yaml::Typed;

pub type S = Spanned<String>;

/// A key that names a customers column or an event type: written with no value (`key:`), it
/// is an error, not "no column". The consent and contact settings it would switch off are
/// never a default (a key left out is the way to say none).
fn named<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<S>, D::Error> {
    match Option::<S>::deserialize(d)? {
        Some(s) => Ok(Some(s)),
        None => Err(serde::de::Error::custom(
            "this key has no value: name a column (or an event type), or leave the key out",
        )),
    }
}
pub type T<X> = Spanned<Typed<X>>;

/// `kairos.yaml` as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[schemars(with = "Option<String>")]
    pub timezone: Option<S>,
    #[schemars(with = "Option<String>")]
    pub date_format: Option<S>,
    #[serde(default)]
    pub columns: RawTables<String>,
    #[serde(default)]
    pub fields: RawTables<Typed<FieldType>>,
    #[serde(default)]
    pub channels: BTreeMap<String, RawChannel>,
    /// The event type of answers to dialogues (default `response`).
    #[schemars(with = "Option<String>")]
    pub response_type: Option<S>,
    /// Template keys your mail tool knows; `kairos check` warns about any other.
    pub templates: Option<Vec<String>>,
    /// RFM score cut points: `recency_days`, `frequency` (orders in 365 days) and `monetary`
    /// (spend in 365 days), four ascending numbers each; see `rfm()` in conditions.
    #[schemars(with = "Option<RawRfm>")]
    pub rfm: Option<Spanned<RawRfm>>,
    /// Value tiers: from a customer column or computed from history.
    #[schemars(with = "Option<RawTiers>")]
    pub tiers: Option<Spanned<RawTiers>>,
    /// Contact policy: consent, caps, send windows, preferences.
    #[serde(default)]
    pub policy: RawPolicy,
    /// The sent ledger for nightly runs (relative to this file's folder); `--ledger` overrides it.
    pub ledger: Option<String>,
    /// Message content: the templates folder, the email sender, SMS length.
    #[serde(default)]
    pub content: RawContent,
}

/// `content:` in kairos.yaml.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// The templates folder (relative to this file's folder); `--templates` overrides it.
    /// Default: a `templates` folder beside the dialogues folder, if there is one.
    pub templates: Option<String>,
    /// The sender of email messages (`From:` of `--format eml`/`mbox`), e.g.
    /// `"Kairos Stores <hello@example.com>"`.
    #[schemars(with = "Option<String>")]
    pub from: Option<S>,
    /// Report SMS messages longer than this many segments (default 2).
    #[schemars(with = "Option<u32>")]
    pub sms_max_segments: Option<Spanned<u32>>,
}

/// Per table, a value per column (a header name under `columns:`, a type under `fields:`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "V: Deserialize<'de>"))]
#[schemars(bound = "")]
pub struct RawTables<V> {
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub transactions: BTreeMap<String, Spanned<V>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub customers: BTreeMap<String, Spanned<V>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub events: BTreeMap<String, Spanned<V>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub catalog: BTreeMap<String, Spanned<V>>,
}

impl<V> Default for RawTables<V> {
    fn default() -> Self {
        Self {
            transactions: BTreeMap::new(),
            customers: BTreeMap::new(),
            events: BTreeMap::new(),
            catalog: BTreeMap::new(),
        }
    }
}

impl<V> RawTables<V> {
    /// The four tables with their kind.
    pub fn tables(&self) -> [(crate::model::TableKind, &BTreeMap<String, Spanned<V>>); 4] {
        use crate::model::TableKind::*;
        [
            (Transactions, &self.transactions),
            (Customers, &self.customers),
            (Events, &self.events),
            (Catalog, &self.catalog),
        ]
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRfm {
    pub recency_days: Option<[f64; 4]>,
    pub frequency: Option<[f64; 4]>,
    pub monetary: Option<[f64; 4]>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// The customer-file column holding this channel's address.
    #[schemars(with = "Option<String>")]
    pub contact: Option<S>,
}

/// `policy:` in kairos.yaml, as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Contact caps across all dialogues, e.g. `{max: 1, per: 1d}`; add `channel:` for one channel.
    #[serde(default)]
    pub caps: Vec<RawCap>,
    /// What happens to a message over a cap: `defer` (default: sent when the cap allows) or `drop`.
    #[schemars(with = "Option<String>")]
    pub on_cap: Option<T<OnCap>>,
    /// A message deferred longer than this is dropped instead (default 14d).
    #[schemars(with = "Option<String>")]
    pub max_defer: Option<T<Duration>>,
    /// Per channel: when messages may go out, in the customer's time zone.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawWindow>")]
    pub send_windows: BTreeMap<String, Spanned<RawWindow>>,
    /// Customer-file column with the customer's IANA time zone.
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub timezone_column: Option<S>,
    #[serde(default)]
    pub consent: RawConsent,
    #[serde(default)]
    pub preferences: RawPreferences,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCap {
    #[schemars(with = "u32")]
    pub max: Spanned<u32>,
    #[schemars(with = "String")]
    pub per: T<Duration>,
    #[schemars(with = "Option<String>")]
    pub channel: Option<S>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Days allowed (mon..sun); default every day.
    #[schemars(with = "Option<Vec<String>>")]
    pub days: Option<Spanned<Vec<T<Weekday>>>>,
    /// Exact local time to send at, e.g. "09:00".
    #[schemars(with = "Option<String>")]
    pub at: Option<S>,
    /// Start of the allowed local time range, e.g. "09:00".
    #[schemars(with = "Option<String>")]
    pub from: Option<S>,
    /// End of the allowed local time range, e.g. "18:00".
    #[schemars(with = "Option<String>")]
    pub to: Option<S>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    /// Customer column: a true value (yes/true/1/y/x) means never contact.
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub do_not_contact: Option<S>,
    /// Per channel: `default: in|out` and an optional customer column holding the initial consent.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawChannelConsent>")]
    pub channels: BTreeMap<String, Spanned<RawChannelConsent>>,
    /// Event types that grant and withdraw consent; their `channel` column names the channel
    /// (empty: every channel). Defaults: opt_in, opt_out.
    #[serde(default, deserialize_with = "named")]
    #[schemars(with = "Option<String>")]
    pub opt_in_event: Option<S>,
    #[serde(default, deserialize_with = "named")]
    #[schemars(with = "Option<String>")]
    pub opt_out_event: Option<S>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannelConsent {
    #[schemars(with = "Option<String>")]
    pub default: Option<T<ConsentDefault>>,
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub column: Option<S>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPreferences {
    /// Customer column listing preferred channels, e.g. "sms;email" (separated by ; , or space).
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub channels_column: Option<S>,
    /// Customer column with the customer's own maximum number of messages per week.
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub max_per_week_column: Option<S>,
}

/// `tiers:` in kairos.yaml: from a customer column, or computed from history.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTiers {
    /// Take the tier from this customer column.
    #[schemars(with = "Option<String>")]
    #[serde(default, deserialize_with = "named")]
    pub column: Option<S>,
    /// Or compute it: spend, orders, purchases or units ...
    #[schemars(with = "Option<String>")]
    pub measure: Option<T<Measure>>,
    /// ... over this window (default: all history) ...
    #[schemars(with = "Option<String>")]
    pub within: Option<T<Duration>>,
    /// ... with these minimums, e.g. {gold: 1000, silver: 300, bronze: 0}.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, f64>")]
    pub levels: BTreeMap<String, Spanned<f64>>,
}
