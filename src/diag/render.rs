//! The one renderer of diagnostics. With source text: annotate-snippets (`file:line:col`, the
//! source lines, carets under the primary span, labels, notes and help). Without: the same
//! framing by hand (`error: …`, `  --> file:line`, `  = help: …`).

use std::fmt::Write;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use super::{Diagnostic, Severity};

pub(super) fn render(d: &Diagnostic) -> String {
    match (&d.source, &d.span) {
        (Some(src), Some(span)) => with_source(d, src, span.clone()),
        _ => without_source(d),
    }
}

fn level(s: Severity) -> Level<'static> {
    match s {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    }
}

fn with_source(d: &Diagnostic, src: &str, span: std::ops::Range<usize>) -> String {
    let path = d.file.display().to_string();
    let mut snippet = Snippet::source(src).path(path).line_start(1).annotation(AnnotationKind::Primary.span(span));
    for l in &d.labels {
        snippet = snippet.annotation(AnnotationKind::Context.span(l.span.clone()).label(l.message.as_str()));
    }
    let mut group = level(d.severity).primary_title(d.message.as_str()).element(snippet);
    for n in &d.notes {
        group = group.element(Level::NOTE.message(n.as_str()));
    }
    if let Some(h) = &d.hint {
        group = group.element(Level::HELP.message(h.as_str()));
    }
    Renderer::plain().render(&[group])
}

fn without_source(d: &Diagnostic) -> String {
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{label}: {}\n  --> {}", d.message, d.location());
    for n in &d.notes {
        let _ = write!(out, "\n  = note: {n}");
    }
    if let Some(h) = &d.hint {
        let _ = write!(out, "\n  = help: {h}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::super::Diagnostic;

    #[test]
    fn renders_location_source_caret_and_help() {
        let src: Arc<str> = Arc::from("id: x\nwhen: teir == 1\n");
        let d = Diagnostic::error(Path::new("d.yaml"), "unknown field `teir`")
            .at(&src, 12..16)
            .with_hint("did you mean `tier`?");
        assert_eq!(
            d.to_string(),
            "error: unknown field `teir`\n --> d.yaml:2:7\n  |\n2 | when: teir == 1\n  |       ^^^^\n  |\n  = help: did you mean `tier`?"
        );
    }

    #[test]
    fn a_warning_with_a_label_and_a_note() {
        let src: Arc<str> = Arc::from("a: 1\nb: 2\n");
        let d = Diagnostic::warning(Path::new("c.yaml"), "odd")
            .at(&src, 8..9)
            .with_label(0..1, "set here")
            .with_note("because");
        assert_eq!(
            d.to_string(),
            "warning: odd\n --> c.yaml:2:4\n  |\n1 | a: 1\n  | - set here\n2 | b: 2\n  |    ^\n  |\n  = note: because"
        );
    }

    #[test]
    fn an_empty_span_gets_one_caret() {
        let src: Arc<str> = Arc::from("steps: []\n");
        let d = Diagnostic::warning(Path::new("l.yaml"), "never runs").at(&src, 0..0);
        assert_eq!(d.to_string(), "warning: never runs\n --> l.yaml:1:1\n  |\n1 | steps: []\n  | ^");
    }

    #[test]
    fn without_source_text_the_framing_is_the_same() {
        let d = Diagnostic::error(Path::new("tx.csv"), "column `amount`: \"x\" is not a number")
            .at_line(3)
            .with_note("found columns: a, b")
            .with_hint("write 12.50");
        assert_eq!(
            d.to_string(),
            "error: column `amount`: \"x\" is not a number\n  --> tx.csv:3\n  = note: found columns: a, b\n  = help: write 12.50"
        );
        let d = Diagnostic::error(Path::new("<command line>"), "--timezone: unknown time zone `X`");
        assert_eq!(d.to_string(), "error: --timezone: unknown time zone `X`\n  --> <command line>");
    }
}
