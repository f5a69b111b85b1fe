//! The checked configuration a run works from: `kairos.yaml` (time zone, date format, column
//! mappings, field types, channels) merged with command-line overrides, validated up front.

use std::collections::BTreeMap;
use std::path::PathBuf;

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
    pub(crate) columns: [FxHashMap<String, String>; 3],
    pub(crate) numeric: [Vec<String>; 3],
    pub channels: BTreeMap<String, Channel>,
    pub response_type: String,
    pub policy: crate::policy::Policy,
    pub templates: Option<Vec<String>>,
    pub rfm: RfmCuts,
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
        &self.columns[kind.slot()]
    }
    pub fn numeric(&self, kind: TableKind) -> &[String] {
        &self.numeric[kind.slot()]
    }
    /// The customer-file column that holds the address for `channel`.
    pub fn contact_field(&self, channel: &str) -> Option<&str> {
        self.channels.get(channel).and_then(|c| c.contact.as_deref())
    }
}
