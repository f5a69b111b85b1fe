//! YAML reading shared by dialogues and the project config: serde-saphyr with a budget against
//! alias bombs, its errors turned into located diagnostics.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

use crate::diag::Diagnostic;
use crate::model::{Closed, ClosedError, Duration};

pub(crate) mod keys;

/// Parse one YAML document whose keys are those of `T`'s JSON schema (the serde structs
/// deriving both). On failure, every problem found: serde's first, plus every unknown key of
/// the file (serde stops at the first), each at its location with a did-you-mean.
pub fn parse<T: DeserializeOwned + schemars::JsonSchema>(path: &Path, src: &Arc<str>) -> Result<T, Vec<Diagnostic>> {
    parse_keyed(path, src, || schemars::schema_for!(T))
}

/// `parse` with the schema of the keys given apart (for types that are not `JsonSchema`
/// themselves, such as a map with spanned keys); built only when the parse fails.
pub fn parse_keyed<T: DeserializeOwned>(
    path: &Path,
    src: &Arc<str>,
    keys: impl FnOnce() -> schemars::Schema,
) -> Result<T, Vec<Diagnostic>> {
    let first = match parse_one::<T>(path, src) {
        Ok(v) => return Ok(v),
        Err(d) => *d,
    };
    let schema = serde_json::to_value(keys()).unwrap_or_default();
    let mut all: Vec<Diagnostic> = keys::unknown(src, &schema)
        .into_iter()
        .map(|u| {
            let hint = unknown_hint(&u.key, u.expected.iter().map(String::as_str));
            Diagnostic::error(path, format!("unknown {} `{}`", u.what, u.key))
                .at(src, first_line(src, u.span))
                .with_hint_opt(hint)
        })
        .collect();
    // serde's own error, unless it is one of those (same place).
    if !all.iter().any(|d| d.line_col() == first.line_col() && first.message.starts_with("unknown ")) {
        all.push(first);
    }
    all.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    Err(all)
}

/// One YAML document; a syntax or shape error becomes a diagnostic at its location.
fn parse_one<T: DeserializeOwned>(path: &Path, src: &Arc<str>) -> Result<T, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_events: 1_000_000,
            max_aliases: 10_000,
            max_depth: 64,
        },
    };
    serde_saphyr::from_str_with_options::<T>(src, options).map_err(|e| {
        let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
        let message = clean_message(&message);
        let (message, hint) = hint_for(&message);
        let span = e.location().map(|l| first_line(src, loc_span(src, &l)));
        let text = span.clone().map_or("", |r| src.get(r).unwrap_or(""));
        let (message, hint) = match type_problem(&message, text) {
            Some((m, h)) => (m, Some(h.to_owned())),
            None => (message, hint),
        };
        let d = Diagnostic::error(path, message).with_hint_opt(hint);
        Box::new(match span {
            Some(r) => d.at(src, r),
            None => d,
        })
    })
}

/// serde-saphyr appends the location to its message; we print it ourselves.
fn clean_message(m: &str) -> String {
    let first = m.lines().next().unwrap_or(m).trim();
    // Only a trailing position is cut (the diagnostic shows where); one inside parentheses,
    // such as where an alias was defined and used, is part of the message.
    let first = match first.rfind(" at line ") {
        Some(i) if is_position(first[i + 9..].trim_end_matches('.')) => &first[..i],
        _ => first,
    };
    first.trim_end_matches('.').to_owned()
}

/// `3, column 14`: a line and a column, nothing else.
fn is_position(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    s.split_once(", column ").is_some_and(|(l, c)| digits(l) && digits(c))
}

/// serde names the accepted keys; turn a near miss into a suggestion.
/// serde's terse type errors (`invalid i64`) as what the user wrote and what was expected.
fn type_problem(message: &str, text: &str) -> Option<(String, &'static str)> {
    let shown = if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_owned()
    };
    let (what, hint) = match message {
        "invalid i64" | "invalid u64" | "invalid u32" | "invalid i32" | "invalid usize" => {
            ("is not a whole number (or is too large)", "write a whole number such as 3")
        }
        "invalid floating point" | "invalid f64" | "invalid f32" => {
            ("is not a number (or is out of range)", "write a decimal number such as 12.5")
        }
        "invalid bool" | "invalid boolean" => ("is not true or false", "write true or false"),
        m if m.contains("untagged enum OneOrManyStr") => {
            ("is not a name or a list of names", "e.g. `email` or `[sms, email]`")
        }
        m if m.contains("untagged enum OneOrMany") => {
            ("is not a whole number or a list of whole numbers", "e.g. `4` or `[1, 2, 3, 4]`")
        }
        _ => return None,
    };
    Some((format!("`{shown}` {what}"), hint))
}

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
            let Some(hint) = unknown_hint(word, options.iter().copied()) else {
                return (message.to_owned(), None);
            };
            return (format!("unknown {what} `{word}`"), Some(hint));
        }
    }
    (message.to_owned(), None)
}

/// `did you mean …?` for a near miss, else the accepted keys (none: no hint).
fn unknown_hint<'a>(word: &str, options: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
    match crate::diag::did_you_mean(word, options.clone()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None => {
            let all: Vec<&str> = options.collect();
            (!all.is_empty()).then(|| format!("expected one of: {}", all.join(", ")))
        }
    }
}

/// The byte range of a spanned node where it is used (an alias: the `*name`). Scalars span
/// their whole text (with quotes); collections only their first character or nothing.
pub fn span<T>(src: &str, s: &Spanned<T>) -> Range<usize> {
    loc_span(src, &s.referenced)
}

/// The byte range of a location: its byte span, or (should a reader not give one) the
/// character at its line and column.
pub fn loc_span(src: &str, l: &Location) -> Range<usize> {
    let sp = l.span();
    match (sp.byte_offset(), sp.byte_len()) {
        (Some(o), Some(n)) => {
            let o = (o as usize).min(src.len());
            o..(o + n as usize).min(src.len())
        }
        _ => {
            let o = offset_of(src, l.line() as usize, l.column() as usize);
            o..o
        }
    }
}

/// Byte offset of a 1-based line and character column (the end of the text if past it).
fn offset_of(src: &str, line: usize, col: usize) -> usize {
    let Some(start) = (if line <= 1 { Some(0) } else { src.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1) })
    else {
        return src.len();
    };
    let rest = &src[start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    start + rest[..line_len].char_indices().nth(col.saturating_sub(1)).map_or(line_len, |(i, _)| i)
}

/// A span cut to its first line without trailing blanks; an empty one widened to a character
/// (when there is one on that line), so there is always something to underline.
pub fn first_line(src: &str, r: Range<usize>) -> Range<usize> {
    let r = match (src.get(r.start..), src.get(r.clone())) {
        (Some(_), Some(_)) => r,
        (Some(_), None) => r.start..src.len(),
        _ => src.len()..src.len(),
    };
    let text = &src[r.clone()];
    let end = r.start + text.find(['\n', '\r']).unwrap_or(text.len());
    let end = r.start + src[r.start..end].trim_end().len();
    if end > r.start {
        return r.start..end;
    }
    match src[r.start..].chars().next() {
        Some(c) if c != '\n' && c != '\r' => r.start..r.start + c.len_utf8(),
        _ => r.start..r.start,
    }
}

/// Where mapping key `key` is written, the nearest before byte `before` (its value's
/// position): plain, `"quoted"` or `'quoted'`, followed by `:`, and not the tail of a longer
/// name. For a problem with a key whose value alone has a span.
pub fn key_before(src: &str, before: usize, key: &str) -> Option<Range<usize>> {
    let head = src.get(..before)?;
    let forms = [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")];
    let mut best: Option<Range<usize>> = None;
    for (k, form) in forms.iter().enumerate() {
        let mut end = head.len();
        while let Some(at) = head[..end].rfind(form.as_str()) {
            let starts = head[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || "_-.".contains(c)));
            if k > 0 || starts {
                let r = at..at + form.len() - 1;
                if best.as_ref().is_none_or(|b| r.start > b.start) {
                    best = Some(r);
                }
                break;
            }
            end = at;
        }
    }
    best
}

/// The byte range in `src` of the bytes `range` of a scalar's value, the scalar's node
/// starting at byte `start` of `src`. Undoes what YAML does between text and value: quotes,
/// `''` in single quotes, backslash escapes in double quotes, and line folding (a line break
/// plus indentation in the source is a space or `\n` in the value) in plain, quoted, literal
/// (`|`) and folded (`>`) scalars. `None` if the source at `start` does not spell `value`.
pub fn scalar_range(src: &str, start: usize, value: &str, range: Range<usize>) -> Option<Range<usize>> {
    let map = scalar::decode(src, start, value)?;
    let last_end = map.last().map_or(start, |(_, r)| r.end);
    // The source of the value character holding byte `off`, if it was reached.
    let holding = |off: usize| {
        map.iter().find(|(v, _)| *v <= off && off < *v + value[*v..].chars().next().map_or(1, char::len_utf8))
    };
    let from = holding(range.start).map_or(last_end, |(_, r)| r.start);
    let to =
        if range.end <= range.start { from } else { holding(range.end - 1).map_or(last_end, |(_, r)| r.end).max(from) };
    Some(from..to)
}

mod scalar {
    //! Decoding a scalar from its source text, recording where each value character comes
    //! from. Checked against the value character by character.

    use std::ops::Range;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Style {
        Plain,
        Single,
        Double,
        Literal,
        Folded,
    }

    /// Each value character's byte offset in the value and the source bytes it comes from.
    pub(super) type Map = Vec<(usize, Range<usize>)>;

    struct Out<'v> {
        value: &'v str,
        map: Map,
        at: usize,
    }

    impl Out<'_> {
        /// Record `c` as coming from `from`; false if the value does not continue with `c`.
        fn emit(&mut self, c: char, from: Range<usize>) -> bool {
            if !self.value[self.at..].starts_with(c) {
                return false;
            }
            self.map.push((self.at, from));
            self.at += c.len_utf8();
            true
        }
        fn done(&self) -> bool {
            self.at >= self.value.len()
        }
    }

    pub(super) fn decode(src: &str, start: usize, value: &str) -> Option<Map> {
        if start > src.len() || !src.is_char_boundary(start) {
            return None;
        }
        let style = style_at(src, start);
        let mut out = Out { value, map: Vec::with_capacity(value.len()), at: 0 };
        let ok = match style {
            Style::Plain | Style::Single | Style::Double => flow(src, start, style, &mut out),
            Style::Literal | Style::Folded => block(src, start, style == Style::Folded, &mut out),
        };
        // Whatever was not reached must be what chomping and folding leave at the end.
        (ok && value[out.at..].chars().all(char::is_whitespace)).then_some(out.map)
    }

    /// What kind of scalar starts at `start`: a quote says it; a block scalar starts on its
    /// own line (after indentation) below a line ending in its `|` or `>` header.
    pub(super) fn style_at(src: &str, start: usize) -> Style {
        match src[start..].chars().next() {
            Some('\'') => return Style::Single,
            Some('"') => return Style::Double,
            _ => {}
        }
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        if line_start == 0 || !src[line_start..start].bytes().all(|b| b == b' ') {
            return Style::Plain;
        }
        // The nearest line above that is not blank (blank lines may open a block scalar).
        let mut end = line_start - 1;
        loop {
            let ls = src[..end].rfind('\n').map_or(0, |i| i + 1);
            let line = src[ls..end].trim_end_matches('\r');
            if !line.trim().is_empty() {
                return header(line).unwrap_or(Style::Plain);
            }
            if ls == 0 {
                return Style::Plain;
            }
            end = ls - 1;
        }
    }

    /// `key: |`, `- >-`, `key: !!str |2 # comment`: the block scalar style the line opens.
    fn header(line: &str) -> Option<Style> {
        let code = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(i) => &line[..i],
            None => line,
        };
        let last = code.split_whitespace().last()?;
        let style = match last.as_bytes()[0] {
            b'|' => Style::Literal,
            b'>' => Style::Folded,
            _ => return None,
        };
        last[1..].bytes().all(|b| b.is_ascii_digit() || b == b'+' || b == b'-').then_some(style)
    }

    /// Length of the line break at `p` (`\n` or `\r\n`), 0 if there is none.
    fn line_break(src: &str, p: usize) -> usize {
        let b = &src.as_bytes()[p.min(src.len())..];
        if b.starts_with(b"\r\n") {
            2
        } else {
            usize::from(b.first() == Some(&b'\n'))
        }
    }

    fn skip_blanks(src: &str, mut p: usize) -> usize {
        while matches!(src.as_bytes().get(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        p
    }

    /// Line folding in flow scalars from `p` (at trailing blanks or a line break): returns
    /// where the next line's text starts and how many empty lines came between, or `None` if
    /// no line break follows the blanks.
    fn fold(src: &str, p: usize) -> Option<(usize, Range<usize>, usize)> {
        let q = skip_blanks(src, p);
        let n = line_break(src, q);
        if n == 0 {
            return None;
        }
        let first = q..q + n;
        let mut p = q + n;
        let mut empty = 0;
        loop {
            let q = skip_blanks(src, p);
            let n = line_break(src, q);
            if n == 0 {
                return Some((q, first, empty));
            }
            empty += 1;
            p = q + n;
        }
    }

    /// Plain, single- and double-quoted scalars.
    fn flow(src: &str, start: usize, style: Style, out: &mut Out<'_>) -> bool {
        let mut p = start + usize::from(style != Style::Plain);
        while !out.done() {
            let Some(c) = src[p..].chars().next() else { return true };
            let len = c.len_utf8();
            match c {
                '\'' if style == Style::Single => {
                    if !src[p + 1..].starts_with('\'') {
                        return true;
                    }
                    if !out.emit('\'', p..p + 2) {
                        return false;
                    }
                    p += 2;
                }
                '"' if style == Style::Double => return true,
                '\\' if style == Style::Double => {
                    let n = line_break(src, p + 1);
                    if n > 0 {
                        // An escaped line break: nothing, then the empty lines as `\n`.
                        let Some((next, first, empty)) = fold(src, p + 1) else { return false };
                        for _ in 0..empty {
                            if !out.emit('\n', first.clone()) {
                                return false;
                            }
                        }
                        p = next;
                        continue;
                    }
                    let Some((ch, n)) = escape(&src[p + 1..]) else { return false };
                    if !out.emit(ch, p..p + 1 + n) {
                        return false;
                    }
                    p += 1 + n;
                }
                ' ' | '\t' | '\r' | '\n' => match fold(src, p) {
                    Some((next, first, empty)) => {
                        let ok = if empty == 0 {
                            out.emit(' ', first.clone())
                        } else {
                            (0..empty).all(|_| out.emit('\n', first.clone()))
                        };
                        if !ok {
                            return false;
                        }
                        p = next;
                    }
                    None => {
                        if !out.emit(c, p..p + len) {
                            return false;
                        }
                        p += len;
                    }
                },
                _ => {
                    if !out.emit(c, p..p + len) {
                        return false;
                    }
                    p += len;
                }
            }
        }
        true
    }

    /// The character a double-quoted escape (after the backslash) stands for, and its length.
    fn escape(s: &str) -> Option<(char, usize)> {
        let c = s.chars().next()?;
        let hex = |n: usize| {
            let h = s.get(1..1 + n)?;
            char::from_u32(u32::from_str_radix(h, 16).ok()?).map(|ch| (ch, 1 + n))
        };
        let simple = match c {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => return hex(2),
            'u' => return hex(4),
            'U' => return hex(8),
            _ => return None,
        };
        Some((simple, c.len_utf8()))
    }

    /// Literal and folded block scalars. `start` is the first content line's text at the
    /// block's indentation; empty lines before it are leading `\n`s of the value.
    fn block(src: &str, start: usize, folded: bool, out: &mut Out<'_>) -> bool {
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let indent = start - line_start;
        let before = line_start.saturating_sub(1)..line_start;
        while out.value[out.at..].starts_with('\n') {
            if !out.emit('\n', before.clone()) {
                return false;
            }
        }
        // The previous text line's break, whether it was more indented, and empty lines since.
        let mut prev: Option<(Range<usize>, bool)> = None;
        let mut empty = 0;
        let mut p = line_start;
        while !out.done() && p < src.len() {
            let eol = p + src[p..].find('\n').unwrap_or(src.len() - p);
            let text_end = if src[p..eol].ends_with('\r') { eol - 1 } else { eol };
            let next = (eol + 1).min(src.len());
            let line = &src[p..text_end];
            if line.len() <= indent && line.bytes().all(|b| b == b' ') {
                empty += 1;
                p = next;
                continue;
            }
            if !line.as_bytes()[..indent.min(line.len())].iter().all(|b| *b == b' ') || line.len() < indent {
                break; // Less indented: the scalar has ended.
            }
            let text = p + indent;
            let spaced = matches!(src.as_bytes()[text], b' ' | b'\t');
            if let Some((brk, prev_spaced)) = &prev {
                let ok = if folded && !spaced && !prev_spaced && empty == 0 {
                    out.emit(' ', brk.clone())
                } else {
                    let n = if folded && !spaced && !prev_spaced { empty } else { empty + 1 };
                    (0..n).all(|_| out.emit('\n', brk.clone()))
                };
                if !ok {
                    return false;
                }
            }
            for (i, c) in src[text..text_end].char_indices() {
                if out.done() {
                    return true;
                }
                if !out.emit(c, text + i..text + i + c.len_utf8()) {
                    return false;
                }
            }
            prev = Some((text_end..next, spaced));
            empty = 0;
            p = next;
        }
        if let Some((brk, _)) = prev {
            while out.value[out.at..].starts_with('\n') {
                if !out.emit('\n', brk.clone()) {
                    return false;
                }
            }
        }
        true
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Doc {
        when: Spanned<String>,
    }

    /// The source text of `needle` (found in the value of `when:`) mapped back into `src`.
    fn mapped(src: &str, needle: &str) -> (String, (usize, usize)) {
        let doc: Doc = serde_saphyr::from_str(src).unwrap();
        let value = &doc.when.value;
        let at = value.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {value:?}"));
        let start = span(src, &doc.when).start;
        let r = scalar_range(src, start, value, at..at + needle.len())
            .unwrap_or_else(|| panic!("no mapping for {src:?} (value {value:?})"));
        (src[r.clone()].to_owned(), crate::diag::line_col(src, r.start))
    }

    #[test]
    fn only_a_trailing_position_is_cut_from_a_message() {
        assert_eq!(
            clean_message("invalid type: integer, expected a string at line 3, column 7"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(clean_message("unknown field `x` at line 3, column 7.\nmore"), "unknown field `x`");
        let alias = "expected string scalar (defined at line 2, column 55) (used at line 3, column 14)";
        assert_eq!(clean_message(alias), alias);
        assert_eq!(clean_message("a message naming a line at line ten"), "a message naming a line at line ten");
    }

    #[test]
    fn plain_scalars() {
        assert_eq!(mapped("when: customer.teir == 1\n", "teir"), ("teir".into(), (1, 16)));
        let src = "when: customer.tier == \"a\"\n  and customer.teir == \"b\"\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (2, 7)));
        // A fold spans the line break and the next line's indentation.
        assert_eq!(mapped(src, "\" and").0, "\"\n  and");
        assert_eq!(mapped("when: !!str a # c\n", "a"), ("a".into(), (1, 13)));
    }

    #[test]
    fn single_quoted_with_double_quotes_inside() {
        let src = "when: 'customer.tier == \"a\" and customer.teir == \"b\"'\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (1, 33)));
    }

    #[test]
    fn single_quoted_escapes_and_folds() {
        let src = "when: 'customer.name == ''O''''Hara'' and customer.teir == 1'\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (1, 43)));
        assert_eq!(mapped(src, "'O''Hara'").0, "''O''''Hara''");
        let src = "when: 'a and\n\n   customer.teir'\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (3, 4)));
    }

    #[test]
    fn double_quoted_escapes() {
        let src = "when: \"customer.tier == \\\"a\\\" and customer.teir == \\x41\"\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (1, 35)));
        assert_eq!(mapped(src, "A").0, "\\x41");
        assert_eq!(mapped(src, "\"a\"").0, "\\\"a\\\"");
        // An escaped line break disappears with the next line's indentation.
        let src = "when: \"customer.tier == 1 and cust\\\n    omer.teir == 2\"\n";
        assert_eq!(mapped(src, "customer.teir"), ("cust\\\n    omer.teir".into(), (1, 31)));
        let src = "when: \"a\n  \n  customer.teir\"\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (3, 3)));
    }

    #[test]
    fn folded_block_scalar() {
        let src = "when: >\n  customer.tier == \"a\" and\n  customer.teir == \"b\"\nsteps: []\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (3, 3)));
        assert_eq!(mapped(src, "and customer").0, "and\n  customer");
        // More-indented lines keep their breaks; leading empty lines and comments on the header.
        let src = "when: >- # note\n\n  a\n    b\n  customer.teir\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (5, 3)));
        assert_eq!(mapped(src, "  b").0, "  b");
    }

    #[test]
    fn literal_block_scalar() {
        let src = "when: |\n  customer.tier == \"a\" and\n  customer.tier == == \"b\"\n";
        assert_eq!(mapped(src, "== \"b\"").0, "== \"b\"");
        assert_eq!(mapped(src, "== \"b\"").1, (3, 20));
        let src = "x: 1\nwhen: |2\n    indented\n  customer.teir\n";
        assert_eq!(mapped(src, "customer.teir"), ("customer.teir".into(), (4, 3)));
        assert_eq!(mapped(src, "indented").1, (3, 5));
    }

    #[test]
    fn a_block_scalar_in_a_list_and_crlf_line_ends() {
        #[derive(serde::Deserialize)]
        struct L {
            when: Vec<Spanned<String>>,
        }
        let src = "when:\r\n  - >\r\n    a and\r\n    customer.teir\r\n";
        let l: L = serde_saphyr::from_str(src).unwrap();
        let w = &l.when[0];
        let at = w.value.find("customer").unwrap();
        let r = scalar_range(src, span(src, w).start, &w.value, at..at + 13).unwrap();
        assert_eq!(&src[r], "customer.teir");
    }

    #[test]
    fn offsets_at_the_end_and_mismatches() {
        let src = "when: 'ab'\n";
        assert_eq!(scalar_range(src, 6, "ab", 2..2), Some(9..9));
        let m = "a: {emial: {at: x}, ximail: 1}\nb: {\"bad-name\": '1', Size: c}\n";
        assert_eq!(key_before(m, m.find("{at").unwrap(), "emial"), Some(4..9));
        assert_eq!(key_before(m, m.len(), "mail"), None, "not the tail of `ximail` or `emial`");
        assert_eq!(key_before(m, m.find("'1'").unwrap(), "bad-name"), Some(35..45));
        assert_eq!(key_before(m, m.find(" c}").unwrap(), "Size"), Some(52..56));
        assert_eq!(key_before(m, 3, "emial"), None, "only before");
        assert_eq!(scalar_range(src, 6, "ab", 1..2), Some(8..9));
        assert_eq!(scalar_range(src, 6, "xy", 0..1), None);
    }

    #[test]
    fn spans_of_nodes_and_errors() {
        let src: Arc<str> = Arc::from("when: \"x\"\nsteps: [\n");
        assert_eq!(first_line(&src, 6..9), 6..9);
        assert_eq!(first_line(&src, 6..20), 6..9);
        assert_eq!(first_line(&src, 0..0), 0..1);
        assert_eq!(offset_of(&src, 2, 8), 17);
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        #[allow(dead_code)]
        struct S {
            when: String,
            steps: Vec<String>,
        }
        let d = parse::<S>(Path::new("d.yaml"), &src).unwrap_err();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].location(), "d.yaml:2:8", "{}", d[0]);
    }
}
