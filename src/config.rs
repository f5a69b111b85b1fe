//! The checked configuration a run works from: `kairos.yaml` (time zone, date format, column
//! mappings, field types, channels) merged with command-line overrides, validated up front.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::input::TableKind;
use crate::yaml;

/// `kairos.yaml` as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[schemars(with = "Option<String>")]
    pub timezone: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub date_format: Option<Spanned<String>>,
    #[serde(default)]
    pub columns: RawTables,
    #[serde(default)]
    pub fields: RawTables,
    #[serde(default)]
    pub channels: BTreeMap<String, RawChannel>,
    /// The event type of answers to dialogues (default `response`).
    pub response_type: Option<String>,
    /// Template keys your mail tool knows; `kairos check` warns about any other.
    pub templates: Option<Vec<String>>,
    /// RFM score cut points: `recency_days`, `frequency` (orders in 365 days) and `monetary`
    /// (spend in 365 days), four ascending numbers each; see `rfm()` in conditions.
    #[schemars(with = "Option<RawRfm>")]
    pub rfm: Option<Spanned<RawRfm>>,
    /// Value tiers: from a customer column or computed from history.
    #[schemars(with = "Option<crate::policy::RawTiers>")]
    pub tiers: Option<Spanned<crate::policy::RawTiers>>,
    /// Contact policy: consent, caps, send windows, preferences.
    #[serde(default)]
    pub policy: crate::policy::RawPolicy,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTables {
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub transactions: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub customers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub events: BTreeMap<String, Spanned<String>>,
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
    pub contact: Option<String>,
}

/// Command-line settings that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub timezone: Option<String>,
    pub date_format: Option<String>,
    /// `(table, canonical column, header)`
    pub columns: Vec<(String, String, String)>,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub contact: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub tz: Tz,
    pub date_format: Option<String>,
    columns: [FxHashMap<String, String>; 3],
    numeric: [Vec<String>; 3],
    pub channels: BTreeMap<String, Channel>,
    pub response_type: String,
    pub policy: crate::policy::Policy,
    pub templates: Option<Vec<String>>,
    pub rfm: crate::expr::compile::RfmCuts,
}

fn slot(kind: TableKind) -> usize {
    match kind {
        TableKind::Transactions => 0,
        TableKind::Customers => 1,
        TableKind::Events => 2,
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut channels = BTreeMap::new();
        for (ch, field) in [
            ("email", "email"),
            ("sms", "phone"),
            ("phone", "phone"),
            ("call", "phone"),
            ("letter", "address"),
            ("postcard", "address"),
            ("mail", "address"),
        ] {
            channels.insert(ch.to_owned(), Channel { contact: Some(field.to_owned()) });
        }
        Self {
            path: None,
            tz: Tz::UTC,
            date_format: None,
            columns: Default::default(),
            numeric: [vec!["quantity".to_owned(), "amount".to_owned()], Vec::new(), Vec::new()],
            channels,
            response_type: "response".to_owned(),
            policy: crate::policy::Policy::default(),
            templates: None,
            rfm: Default::default(),
        }
    }
}

impl Config {
    pub fn columns(&self, kind: TableKind) -> &FxHashMap<String, String> {
        &self.columns[slot(kind)]
    }
    pub fn numeric(&self, kind: TableKind) -> &[String] {
        &self.numeric[slot(kind)]
    }
    /// What dialogue checking needs to know from the config.
    pub fn known(&self) -> crate::dialogue::Known {
        crate::dialogue::Known {
            tiers: self.policy.tier_names(),
            templates: self.templates.clone(),
            rfm: self.rfm.clone(),
        }
    }

    /// The customer-file column that holds the address for `channel`.
    pub fn contact_field(&self, channel: &str) -> Option<&str> {
        self.channels.get(channel).and_then(|c| c.contact.as_deref())
    }

    /// Read `path` (if any), apply overrides, and collect every problem.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut cfg = Config::default();
        if let Some(path) = path {
            cfg.path = Some(path.to_path_buf());
            match std::fs::read_to_string(path) {
                Err(e) => {
                    diags.push(Diagnostic::error(path, 0, 0, format!("cannot read config: {e}")));
                    return Err(diags);
                }
                Ok(src) => match yaml::parse::<RawConfig>(path, &src) {
                    Err(d) => diags.push(*d),
                    Ok(raw) => cfg.apply_raw(raw, path, &src, &mut diags),
                },
            }
        }
        let cli = Path::new("<command line>");
        if let Some(tz) = &overrides.timezone {
            match tz.parse::<Tz>() {
                Ok(t) => cfg.tz = t,
                Err(_) => diags.push(
                    Diagnostic::error(cli, 0, 0, format!("--timezone: unknown time zone `{tz}`"))
                        .with_hint("use an IANA name such as `Europe/London` or `America/New_York`"),
                ),
            }
        }
        if let Some(f) = &overrides.date_format {
            if let Err(m) = check_date_format(f) {
                diags.push(Diagnostic::error(cli, 0, 0, format!("--date-format: {m}")));
            }
            cfg.date_format = Some(f.clone());
        }
        for (table, column, header) in &overrides.columns {
            match table_kind(table) {
                Some(kind) => {
                    cfg.columns[slot(kind)].insert(column.clone(), header.clone());
                }
                None => diags.push(
                    Diagnostic::error(cli, 0, 0, format!("--column: unknown table `{table}`"))
                        .with_hint("expected `transactions.COLUMN=HEADER`, `customers.…` or `events.…`"),
                ),
            }
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(cfg)
        }
    }

    fn apply_raw(&mut self, raw: RawConfig, path: &Path, src: &str, diags: &mut Diagnostics) {
        let at = |s: &Spanned<String>, msg: String| {
            let (l, c) = yaml::pos(s);
            Diagnostic::error(path, l, c, msg).with_width(s.value.len()).with_source(src)
        };
        if let Some(tz) = &raw.timezone {
            match tz.value.parse::<Tz>() {
                Ok(t) => self.tz = t,
                Err(_) => diags.push(
                    at(tz, format!("unknown time zone `{}`", tz.value))
                        .with_hint("use an IANA name such as `Europe/London` or `America/New_York`"),
                ),
            }
        }
        if let Some(f) = &raw.date_format {
            if let Err(m) = check_date_format(&f.value) {
                diags.push(at(f, m));
            }
            self.date_format = Some(f.value.clone());
        }
        for (kind, map) in [
            (TableKind::Transactions, &raw.columns.transactions),
            (TableKind::Customers, &raw.columns.customers),
            (TableKind::Events, &raw.columns.events),
        ] {
            for (col, header) in map {
                self.columns[slot(kind)].insert(col.clone(), header.value.clone());
            }
        }
        for (kind, map) in [
            (TableKind::Transactions, &raw.fields.transactions),
            (TableKind::Customers, &raw.fields.customers),
            (TableKind::Events, &raw.fields.events),
        ] {
            for (col, ty) in map {
                match ty.value.as_str() {
                    "number" => {
                        if !self.numeric[slot(kind)].contains(col) {
                            self.numeric[slot(kind)].push(col.clone());
                        }
                    }
                    "string" | "text" => self.numeric[slot(kind)].retain(|c| c != col),
                    other => diags.push(at(ty, format!("unknown field type `{other}`")).with_hint(
                        did_you_mean(other, ["number", "string"]).map_or_else(
                            || "a field type is `number` or `string`".to_owned(),
                            |s| format!("did you mean `{s}`?"),
                        ),
                    )),
                }
            }
        }
        for (name, ch) in raw.channels {
            self.channels.insert(name, Channel { contact: ch.contact });
        }
        if let Some(t) = raw.response_type {
            self.response_type = t;
        }
        self.policy = crate::policy::Policy::check(raw.policy, raw.tiers, path, src, diags);
        self.templates = raw.templates;
        if let Some(spanned) = raw.rfm {
            let (line, col) = yaml::pos(&spanned);
            let r = spanned.value;
            let mut cuts = crate::expr::compile::RfmCuts::default();
            for (name, given, slot) in [
                ("recency_days", r.recency_days, &mut cuts.recency_days),
                ("frequency", r.frequency, &mut cuts.frequency),
                ("monetary", r.monetary, &mut cuts.monetary),
            ] {
                if let Some(v) = given {
                    if v.windows(2).any(|w| w[0] > w[1]) {
                        diags.push(
                            Diagnostic::error(
                                path,
                                line,
                                col,
                                format!("rfm.{name}: the four cut points must be ascending, not {v:?}"),
                            )
                            .with_source(src),
                        );
                    }
                    *slot = v;
                }
            }
            self.rfm = cuts;
        }
    }
}

pub fn table_kind(name: &str) -> Option<TableKind> {
    match name {
        "transactions" => Some(TableKind::Transactions),
        "customers" => Some(TableKind::Customers),
        "events" => Some(TableKind::Events),
        _ => None,
    }
}

fn check_date_format(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err(format!("`{f}` is not a valid strftime format (e.g. `%Y%m%d` or `%d/%m/%Y %H:%M`)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_file_merge() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "timezone: Europe/Paris\ncolumns:\n  transactions:\n    customer_id: CustNo\nfields:\n  customers:\n    ltv: number\n").unwrap();
        let o = Overrides { date_format: Some("%Y%m%d".into()), ..Default::default() };
        let c = Config::load(Some(&p), &o).unwrap();
        assert_eq!(c.tz, chrono_tz::Europe::Paris);
        assert_eq!(c.columns(TableKind::Transactions).get("customer_id").unwrap(), "CustNo");
        assert_eq!(c.numeric(TableKind::Customers), &["ltv".to_owned()]);
        assert_eq!(c.date_format.as_deref(), Some("%Y%m%d"));
    }

    #[test]
    fn bad_values_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "timezone: Mars/Olympus\nfields:\n  customers:\n    ltv: numbr\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 2);
        assert_eq!((d.0[0].line, d.0[0].col), (1, 11));
        assert!(d.0[1].to_string().contains("did you mean `number`?"), "{}", d.0[1]);
    }

    #[test]
    fn policy_shape_problems_point_at_their_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(
            &p,
            "rfm:\n  frequency: [8, 4, 2, 1]\ntiers:\n  column: tier\n  measure: spend\npolicy:\n  send_windows:\n    phone: {from: \"18:00\", to: \"09:00\"}\n    email: {from: \"09:00\"}\n",
        )
        .unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        let got: Vec<(usize, String)> = d.0.iter().map(|x| (x.line, x.message.clone())).collect();
        assert_eq!(
            got,
            [
                (9, "send window for `email`: give `at: HH:MM`, or `from:` and `to:`".to_owned()),
                (8, "send window for `phone` ends before it starts".to_owned()),
                (4, "tiers: give either `column:` or `measure:` with `levels:`".to_owned()),
                (2, "rfm.frequency: the four cut points must be ascending, not [8.0, 4.0, 2.0, 1.0]".to_owned()),
            ]
        );
    }
}
