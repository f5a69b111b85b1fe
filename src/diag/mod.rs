//! Diagnostics: problems found in user input, located at `file:line:col`, rendered with the
//! source line and a caret so a marketer can see exactly what is wrong and where.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one input file. `line` and `col` are 1-based; 0 means "unknown".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line, when the file is text we hold (dialogues, config).
    pub source_line: Option<String>,
    /// How many characters the caret underline spans.
    pub width: usize,
}

impl Diagnostic {
    pub fn error(file: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint: None,
            source_line: None,
            width: 1,
        }
    }

    pub fn warning(file: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, line, col, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(1);
        self
    }

    /// Attach the source line from `source` so the rendering can show it with a caret.
    pub fn with_source(mut self, source: &str) -> Self {
        if self.line > 0 {
            self.source_line = source.lines().nth(self.line - 1).map(str::to_owned);
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.message)?;
        write!(f, "\n  --> {}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.col > 0 {
                write!(f, ":{}", self.col)?;
            }
        }
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            write!(f, "\n{pad} |\n{gutter} | {src}")?;
            if self.col > 0 {
                // Keep tabs so the caret lines up under the same column in a terminal.
                let lead: String = src.chars().take(self.col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                write!(f, "\n{pad} | {lead}{}", "^".repeat(self.width))?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (levenshtein(word, c), c)).filter(|(d, _)| *d <= limit).min().map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit (optimal string alignment), since
/// `teir` for `tier` is the commonest typo.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
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

    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.col, a.severity, &a.message).cmp(&(&b.file, b.line, b.col, b.severity, &b.message))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_source_and_caret() {
        let d = Diagnostic::error(Path::new("d.yaml"), 2, 7, "unknown field `teir`")
            .with_width(4)
            .with_hint("did you mean `tier`?")
            .with_source("id: x\nwhen: teir == 1\n");
        assert_eq!(
            d.to_string(),
            "error: unknown field `teir`\n  --> d.yaml:2:7\n  |\n2 | when: teir == 1\n  |       ^^^^\n  = help: did you mean `tier`?"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("teir", ["tier", "email"]), Some("tier"));
        assert_eq!(did_you_mean("zzzzzz", ["tier", "email"]), None);
    }
}
