//! Diagnostics: problems found in user input. A `Diagnostic` is data (what, where, how to fix
//! it); `render` turns it into text with `file:line:col`, the source lines and a caret. Line and
//! column are derived from a byte span into the file's text when rendering, so nothing here
//! holds a copied source line.

mod render;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary annotation: another place in the same source that explains the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub message: String,
}

/// One problem in one input file.
///
/// Where it is, from most to least precise: a byte `span` into `source` (files we hold as text:
/// dialogues, the config), a plain `line` (files we stream: CSV inputs), or just the `file`
/// (a folder, the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub file: PathBuf,
    /// The whole text of `file`, shared by every diagnostic about it.
    pub source: Option<Arc<str>>,
    /// The primary byte range into `source` (only with `source`).
    pub span: Option<Range<usize>>,
    /// Further annotated ranges into `source`.
    pub labels: Vec<Label>,
    /// 1-based line, for files without `source`.
    pub line: Option<usize>,
    /// Context shown as `= note: …`.
    pub notes: Vec<String>,
    /// How to fix it, shown as `= help: …`.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem with `file` as a whole; add a place with `at`/`at_line`.
    pub fn error(file: &Path, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: file.to_path_buf(),
            source: None,
            span: None,
            labels: Vec::new(),
            line: None,
            notes: Vec::new(),
            hint: None,
        }
    }

    pub fn warning(file: &Path, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, message) }
    }

    /// Point at `span` (bytes) of `source`, the file's text. The span is clamped to the text and
    /// to character boundaries.
    pub fn at(mut self, source: &Arc<str>, span: Range<usize>) -> Self {
        self.span = Some(clamp(source, span));
        self.source = Some(Arc::clone(source));
        self.line = None;
        self
    }

    /// Point at a 1-based line of a file we do not hold as text; 0 means unknown.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = (line > 0).then_some(line);
        self
    }

    /// Annotate another range of the same source (ignored without a source).
    pub fn with_label(mut self, span: Range<usize>, message: impl Into<String>) -> Self {
        if let Some(src) = &self.source {
            let span = clamp(src, span);
            self.labels.push(Label { span, message: message.into() });
        }
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The same location with another message (for problems found later than the parse).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column (in characters) of the primary span.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (src, span) = (self.source.as_deref()?, self.span.as_ref()?);
        Some(line_col(src, span.start))
    }

    /// The 1-based line, from the span or the plain line number.
    pub fn line(&self) -> Option<usize> {
        self.line_col().map(|(l, _)| l).or(self.line)
    }

    /// `file:line:col`, `file:line` or `file`, as far as it is known.
    pub fn location(&self) -> String {
        match (self.line_col(), self.line) {
            (Some((l, c)), _) => format!("{}:{l}:{c}", self.file.display()),
            (None, Some(l)) => format!("{}:{l}", self.file.display()),
            (None, None) => self.file.display().to_string(),
        }
    }

    /// Sort key: file, then position (unknown first), severity and message.
    fn sort_key(&self) -> (PathBuf, usize, usize, Severity, String) {
        let (l, c) = self.line_col().unwrap_or((self.line.unwrap_or(0), 0));
        (self.file.clone(), l, c, self.severity, self.message.clone())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render::render(self))
    }
}

/// 1-based line and character column of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(src, offset);
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn clamp(src: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_boundary(src, span.start);
    start..ceil_boundary(src, span.end.max(start))
}

/// The closest candidate to `word` by edit distance (optimal string alignment, so a swap of
/// neighbours such as `teir` for `tier` is one edit), if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // No name is this long: a pasted paragraph gets no suggestion (and no quadratic work).
    if word.len() > 200 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    let lower = word.to_lowercase();
    // A name that differs only in case (`DNC` for `dnc`) is the likeliest mistake of all.
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.to_lowercase() == lower { 0 } else { strsim::osa_distance(word, c) };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Every problem found while loading, errors first in file order.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }
    /// "2 errors, 1 warning".
    pub fn counts(&self) -> String {
        let plural = |n: usize, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
        format!("{}, {}", plural(self.error_count(), "error"), plural(self.warning_count(), "warning"))
    }

    /// By file, then position, severity and message.
    pub fn sort(&mut self) {
        self.0.sort_by_cached_key(Diagnostic::sort_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_come_from_the_span() {
        let src: Arc<str> = Arc::from("id: x\nwhen: teir == 1\n");
        let d = Diagnostic::error(Path::new("d.yaml"), "m").at(&src, 12..16);
        assert_eq!(d.line_col(), Some((2, 7)));
        assert_eq!(d.location(), "d.yaml:2:7");
        assert_eq!(Diagnostic::error(Path::new("t.csv"), "m").at_line(3).location(), "t.csv:3");
        assert_eq!(Diagnostic::error(Path::new("dir"), "m").at_line(0).location(), "dir");
        // Columns count characters, not bytes.
        assert_eq!(line_col("é: ab", 4), (1, 4));
    }

    #[test]
    fn spans_are_clamped_to_the_text_and_char_boundaries() {
        let src: Arc<str> = Arc::from("é\n");
        let d = Diagnostic::error(Path::new("d.yaml"), "m").at(&src, 1..99);
        assert_eq!(d.span, Some(0..3));
    }

    #[test]
    fn sort_orders_by_file_then_position() {
        let a: Arc<str> = Arc::from("x\ny\nz\n");
        let mut ds = Diagnostics(vec![
            Diagnostic::error(Path::new("b.yaml"), "b").at(&a, 0..1),
            Diagnostic::warning(Path::new("a.yaml"), "late").at(&a, 4..5),
            Diagnostic::error(Path::new("a.yaml"), "early").at(&a, 2..3),
            Diagnostic::error(Path::new("a.yaml"), "whole file"),
        ]);
        ds.sort();
        let got: Vec<&str> = ds.0.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(got, ["whole file", "early", "late", "b"]);
        assert_eq!(ds.counts(), "3 errors, 1 warning");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("teir", ["tier", "email"]), Some("tier"));
        assert_eq!(did_you_mean("zzzzzz", ["tier", "email"]), None);
        assert_eq!(did_you_mean("absense", ["absence", "purchase"]), Some("absence"));
        // A swap of neighbours is one edit, so it counts even for short words.
        assert_eq!(did_you_mean("gdl", ["gold"]), None);
        assert_eq!(did_you_mean("ab", ["ba"]), Some("ba"));
    }
}
