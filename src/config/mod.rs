//! The checked configuration a run works from: `kairos.yaml` (time zone, date format, column
//! mappings, field types, channels) merged with command-line overrides, validated up front.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{RfmCuts, TableKind};
use chrono_tz::Tz;
use rustc_hash::FxHashMap;

pub mod check;
pub mod raw;

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
    pub(crate) columns: [FxHashMap<String, String>; 4],
    pub(crate) numeric: [Vec<String>; 4],
    pub channels: BTreeMap<String, Channel>,
    pub response_type: String,
    pub policy: crate::policy::Policy,
    pub templates: Option<Vec<String>>,
    pub rfm: RfmCuts,
    /// Every input column the config names, with where it names it: checked against the
    /// files' headers before a run (`column_problems`).
    pub column_refs: Vec<ColumnRef>,
    /// `ledger:` from kairos.yaml, resolved against the config's folder.
    pub ledger: Option<PathBuf>,
    /// `content.templates`, resolved against the config's folder.
    pub templates_dir: Option<PathBuf>,
    /// `content.from`: the sender of email messages.
    pub mail_from: Option<String>,
    pub sms_max_segments: u32,
}

/// A column of an input that kairos.yaml or a flag names.
#[derive(Debug, Clone)]
pub struct ColumnRef {
    pub table: TableKind,
    pub column: String,
    /// What names it, e.g. "consent.do_not_contact".
    pub what: String,
    /// For a column mapping: the header it maps from (what the file must have).
    pub header: Option<String>,
    /// Where it is named (an error located at the value).
    pub at: Diagnostic,
    /// An unresolvable one is an error (consent, do-not-contact, tiers, mappings); a channel's
    /// default contact column only a warning.
    pub required: bool,
}

impl Default for Config {
    fn default() -> Self {
        let mut channels = BTreeMap::new();
        for (ch, field) in crate::model::DEFAULT_CHANNELS {
            channels.insert((*ch).to_owned(), Channel { contact: Some((*field).to_owned()) });
        }
        Self {
            path: None,
            tz: Tz::UTC,
            date_format: None,
            columns: Default::default(),
            numeric: [
                vec!["quantity".to_owned(), "amount".to_owned()],
                Vec::new(),
                Vec::new(),
                vec!["price".to_owned(), "old_price".to_owned()],
            ],
            channels,
            response_type: "response".to_owned(),
            policy: crate::policy::Policy::default(),
            templates: None,
            rfm: Default::default(),
            column_refs: Vec::new(),
            ledger: None,
            templates_dir: None,
            mail_from: None,
            sms_max_segments: crate::template::DEFAULT_SMS_MAX_SEGMENTS,
        }
    }
}

impl Config {
    pub fn columns(&self, kind: TableKind) -> &FxHashMap<String, String> {
        &self.columns[kind.slot()]
    }
    pub fn numeric(&self, kind: TableKind) -> &[String] {
        &self.numeric[kind.slot()]
    }
    /// The declared channel names (defaults and kairos.yaml `channels:`).
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.keys().cloned().collect()
    }

    /// Every named column missing from its file's header, located where it is named, with a
    /// did-you-mean. `headers(kind)` gives a table's canonical column names, None when that
    /// file is not given; a required column of a file that is not given is an error too
    /// (`given` says whether `run` has the file: `check` without inputs checks nothing).
    pub fn column_problems(&self, headers: &dyn Fn(TableKind) -> Option<Vec<String>>, strict: bool) -> Diagnostics {
        let mut out = Diagnostics::default();
        for r in &self.column_refs {
            let file = r.table.name();
            let d = match headers(r.table) {
                Some(h) if h.contains(&r.column) => continue,
                Some(h) => {
                    let h: Vec<String> = h.into_iter().filter(|x| !x.is_empty()).collect();
                    let hint = crate::diag::did_you_mean(&r.column, h.iter().map(String::as_str))
                        .map(|x| format!("did you mean `{x}`?"))
                        .unwrap_or_else(|| format!("the {file} columns are: {}", h.join(", ")));
                    let missing = match &r.header {
                        Some(h) => format!("header `{h}`"),
                        None => format!("column `{}`", r.column),
                    };
                    r.at.clone().with_message(format!("{}: the {file} file has no {missing}", r.what)).with_hint(hint)
                }
                None if strict && r.required && r.header.is_none() => r.at.clone().with_message(format!(
                    "{} names column `{}` of the {file} file, but no {file} file was given",
                    r.what, r.column
                )),
                None => continue,
            };
            out.push(if r.required { d } else { d.with_severity(crate::diag::Severity::Warning) });
        }
        out.sort();
        out
    }

    /// The customer-file column that holds the address for `channel`.
    pub fn contact_field(&self, channel: &str) -> Option<&str> {
        self.channels.get(channel).and_then(|c| c.contact.as_deref())
    }
}
