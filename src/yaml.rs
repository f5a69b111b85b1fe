//! YAML reading shared by dialogues and the project config: serde-saphyr with a budget against
//! alias bombs, its errors turned into located diagnostics.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

use crate::diag::Diagnostic;
use crate::model::{Closed, ClosedError, Duration};

/// Parse one YAML document; a syntax or shape error becomes a diagnostic at its location.
pub fn parse<T: DeserializeOwned>(path: &Path, src: &str) -> Result<T, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_events: 1_000_000,
            max_aliases: 10_000,
            max_depth: 64,
        },
    };
    serde_saphyr::from_str_with_options::<T>(src, options).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
        let message = clean_message(&message);
        let (message, hint) = hint_for(&message);
        Box::new(Diagnostic::error(path, line, col, message).with_hint_opt(hint).with_source(src))
    })
}

/// serde-saphyr appends the location to its message; we print it ourselves.
fn clean_message(m: &str) -> String {
    let first = m.lines().next().unwrap_or(m).trim();
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    first.trim_end_matches('.').to_owned()
}

/// serde names the accepted keys; turn a near miss into a suggestion.
fn hint_for(message: &str) -> (String, Option<String>) {
    for (prefix, what) in [("unknown variant ", "trigger"), ("unknown field ", "field")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (word, expected) = match rest.split_once(", expected ") {
                Some((w, e)) => (w.trim_matches('`'), e),
                None => (rest.trim_matches('`'), ""),
            };
            let options: Vec<&str> = expected
                .trim_start_matches("one of ")
                .split(", ")
                .map(|o| o.trim_matches('`'))
                .filter(|o| !o.is_empty())
                .collect();
            let hint = match crate::diag::did_you_mean(word, options.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if !options.is_empty() => format!("expected one of: {}", options.join(", ")),
                None => return (message.to_owned(), None),
            };
            return (format!("unknown {what} `{word}`"), Some(hint));
        }
    }
    (message.to_owned(), None)
}

/// 1-based (line, column) of a spanned value; (0, 0) when unknown.
pub fn pos<T>(s: &Spanned<T>) -> (usize, usize) {
    loc(&s.referenced)
}

pub fn loc(l: &Location) -> (usize, usize) {
    (l.line() as usize, l.column() as usize)
}

/// A scalar read as text and parsed into `T` by `T`'s one parser. The parse result is kept
/// rather than failing the whole file, so checking can report every bad value at once, each
/// at its own location.
#[derive(Debug, Clone)]
pub struct Typed<T> {
    pub text: String,
    pub value: Result<T, ClosedError>,
}

impl<T: Copy> Typed<T> {
    pub fn ok(&self) -> Option<T> {
        self.value.as_ref().ok().copied()
    }
}

/// Values a `Typed` scalar can hold.
pub trait FromText: Sized {
    fn from_text(s: &str) -> Result<Self, ClosedError>;
}

impl<T: Closed> FromText for T {
    fn from_text(s: &str) -> Result<Self, ClosedError> {
        T::parse(s)
    }
}

impl FromText for Duration {
    fn from_text(s: &str) -> Result<Self, ClosedError> {
        s.parse()
            .map_err(|message| ClosedError { message, hint: "write a number and a unit: 36h, 90d, 12w, 1y".to_owned() })
    }
}

impl<'de, T: FromText> serde::Deserialize<'de> for Typed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let value = T::from_text(&text);
        Ok(Typed { text, value })
    }
}
