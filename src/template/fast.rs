//! A compiled fast path for the templates most projects write: literal text with
//! `{{ path }}` / `{{ path | filter(literal, ...) | ... }}` and `{% if path %}...{% else %}...
//! {% endif %}`. Such a field is evaluated straight from the message's data (a [`Source`]),
//! without building a minijinja context per message. Anything the splitter does not handle
//! exactly (other tags, comments, whitespace control, operators, escapes in string literals,
//! unknown filters) leaves the field to minijinja; so does any value at render time the fast
//! path is not sure to treat like minijinja (a filter given a type it does not expect, a
//! filter error, an output past the cap): the caller then renders the part with minijinja,
//! which gives the same text or the same error. A test renders every shipped template both
//! ways and asserts equality, so the two cannot drift.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::render::local_time_text;
use super::{FUEL, HISTORY_FIELDS, MAX_OUTPUT, MESSAGE_VARS, TRIGGER_FIELDS};

/// A value as the fast path sees it: the kinds a message's variables and the supported
/// filters produce.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Undef,
    Str(Cow<'a, str>),
    F64(f64),
    U64(u64),
    I64(i64),
    /// An instant shown in a zone: the text `render::local_time` gives, kept as the instant
    /// so `date` formats it without reading the text back.
    Time(i64, chrono_tz::Tz),
}

/// The largest magnitude below which every integer is a double (2^53).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A number read from the inputs as a template value: a whole number as an integer, so
/// `{{ event.quantity }}` shows `1`, not the `1.0` a float shows; any other as a float.
pub fn number_value(x: f64) -> minijinja::Value {
    match whole(x) {
        Some(i) => minijinja::Value::from(i),
        None => minijinja::Value::from(x),
    }
}

fn whole(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < EXACT_INTEGERS).then_some(x as i64)
}

impl Val<'_> {
    /// `number_value` as the fast path sees it.
    pub fn number(x: f64) -> Val<'static> {
        match whole(x) {
            Some(i) => Val::I64(i),
            None => Val::F64(x),
        }
    }

    /// Instant `t` in `tz` (missing when chrono cannot represent it, as `local_time`).
    pub fn time(t: i64, tz: chrono_tz::Tz) -> Val<'static> {
        match chrono::DateTime::from_timestamp(t, 0) {
            Some(_) => Val::Time(t, tz),
            None => Val::Undef,
        }
    }

    /// minijinja's truthiness.
    fn is_true(&self) -> bool {
        match self {
            Val::Undef => false,
            Val::Time(..) => true,
            Val::Str(s) => !s.is_empty(),
            Val::F64(x) => *x != 0.0,
            Val::U64(x) => *x != 0,
            Val::I64(x) => *x != 0,
        }
    }
}

/// A record a template reads fields of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rec {
    Customer,
    Event,
    /// An announcement's catalogue row.
    Item,
    Trigger,
    History,
    Fact,
}

/// A variable: a message variable (an index into `MESSAGE_VARS`) or a record's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    Msg(usize),
    Field(Rec, Box<str>),
}

/// What a message offers the fast path. Record fields that are empty text are treated as
/// missing by the caller (records leave empty cells out), so a source may return them.
pub trait Source {
    /// Message variable `MESSAGE_VARS[i]`.
    fn msg(&self, i: usize) -> Val<'_>;
    /// Field `name` of record `rec`.
    fn field(&self, rec: Rec, name: &str) -> Val<'_>;
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Str(Box<str>),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    FirstName,
    Default(Arg),
    Replace(Box<str>, Box<str>),
    Title,
    Upper,
    Lower,
    Money(Option<Box<str>>),
    /// The format, compiled.
    Date(Vec<chrono::format::Item<'static>>),
}

#[derive(Debug, Clone, PartialEq)]
struct Expr {
    path: Path,
    /// `[start:stop]` with non-negative literals.
    slice: Option<(Option<usize>, Option<usize>)>,
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(Box<str>),
    Expr(Expr),
    If(Path, Vec<Seg>, Vec<Seg>),
}

/// One template field compiled for the fast path.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    segs: Vec<Seg>,
    /// Bytes of literal text (to size the output).
    lit_len: usize,
}

/// The render could not be done here exactly; minijinja must do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// Compile `src` (a field's template text) for the fast path, or None when minijinja must
/// render it.
pub fn compile(src: &str) -> Option<Program> {
    // minijinja drops one trailing newline, then one trailing carriage return.
    let mut src = src.strip_suffix('\n').unwrap_or(src);
    src = src.strip_suffix('\r').unwrap_or(src);
    let mut p = Parser { s: src, i: 0 };
    let (segs, end) = p.segments()?;
    if end != Stop::Eof {
        return None;
    }
    // minijinja stops a render past `FUEL` instructions; leave it any field that could come
    // near (a generous bound on the instructions each construct compiles to).
    if ops(&segs) > FUEL as usize / 4 {
        return None;
    }
    let mut lit_len = 0;
    count_lit(&segs, &mut lit_len);
    Some(Program { segs, lit_len })
}

/// At least as many instructions as minijinja runs for `segs` (both branches of an `if`).
fn ops(segs: &[Seg]) -> usize {
    segs.iter()
        .map(|s| match s {
            Seg::Lit(_) => 1,
            Seg::Expr(e) => 4 + 4 * e.filters.len() + if e.slice.is_some() { 4 } else { 0 },
            Seg::If(_, a, b) => 4 + ops(a) + ops(b),
        })
        .sum()
}

fn count_lit(segs: &[Seg], n: &mut usize) {
    for s in segs {
        match s {
            Seg::Lit(l) => *n += l.len(),
            Seg::Expr(_) => *n += 16,
            Seg::If(_, a, b) => {
                count_lit(a, n);
                count_lit(b, n);
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Eof,
    Else,
    EndIf,
}

struct Parser<'s> {
    s: &'s str,
    i: usize,
}

impl<'s> Parser<'s> {
    fn rest(&self) -> &'s str {
        &self.s[self.i..]
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.i += r.len() - r.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    /// Literal text and expressions up to the end of input or an `{% else %}`/`{% endif %}`.
    fn segments(&mut self) -> Option<(Vec<Seg>, Stop)> {
        let mut segs = Vec::new();
        loop {
            let rest = self.rest();
            let mut off = 0;
            let marker = loop {
                match memchr::memchr(b'{', &rest.as_bytes()[off..]) {
                    None => break None,
                    Some(k) => {
                        let at = off + k;
                        match rest.as_bytes().get(at + 1) {
                            Some(b'{' | b'%' | b'#') => break Some(at),
                            _ => off = at + 1,
                        }
                    }
                }
            };
            let lit_end = marker.unwrap_or(rest.len());
            if lit_end > 0 {
                segs.push(Seg::Lit(rest[..lit_end].into()));
            }
            self.i += lit_end;
            if marker.is_none() {
                return Some((segs, Stop::Eof));
            }
            if self.eat("{{") {
                if matches!(self.rest().as_bytes().first(), Some(b'-' | b'+')) {
                    return None;
                }
                let e = self.expr()?;
                self.ws();
                if !self.eat("}}") {
                    return None;
                }
                segs.push(Seg::Expr(e));
            } else if self.eat("{%") {
                if matches!(self.rest().as_bytes().first(), Some(b'-' | b'+')) {
                    return None;
                }
                self.ws();
                let word = self.ident()?;
                match word {
                    "if" => {
                        self.ws();
                        let cond = self.path()?;
                        self.close_tag()?;
                        let (then, end) = self.segments()?;
                        let otherwise = match end {
                            Stop::EndIf => Vec::new(),
                            Stop::Else => {
                                let (o, end) = self.segments()?;
                                if end != Stop::EndIf {
                                    return None;
                                }
                                o
                            }
                            Stop::Eof => return None,
                        };
                        segs.push(Seg::If(cond, then, otherwise));
                    }
                    "else" => {
                        self.close_tag()?;
                        return Some((segs, Stop::Else));
                    }
                    "endif" => {
                        self.close_tag()?;
                        return Some((segs, Stop::EndIf));
                    }
                    _ => return None,
                }
            } else {
                // a comment
                return None;
            }
        }
    }

    fn close_tag(&mut self) -> Option<()> {
        self.ws();
        self.eat("%}").then_some(())
    }

    fn ident(&mut self) -> Option<&'s str> {
        let r = self.rest();
        let b = r.as_bytes();
        if !b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
            return None;
        }
        let n = b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
        // A non-ASCII identifier character: leave it to minijinja's lexer.
        if b.get(n).is_some_and(|c| !c.is_ascii()) {
            return None;
        }
        let start = self.i;
        self.i += n;
        Some(&self.s[start..start + n])
    }

    fn path(&mut self) -> Option<Path> {
        let root = self.ident()?;
        if matches!(root, "true" | "false" | "none" | "True" | "False" | "None" | "not" | "loop" | "self") {
            return None;
        }
        self.ws();
        let field = if self.eat(".") {
            self.ws();
            Some(self.ident()?.to_owned())
        } else {
            None
        };
        let save = self.i;
        self.ws();
        if self.rest().starts_with('.') {
            return None; // deeper paths
        }
        self.i = save;
        let rec = match root {
            "customer" => Rec::Customer,
            "event" => Rec::Event,
            "item" => Rec::Item,
            "trigger" => Rec::Trigger,
            "history" => Rec::History,
            "fact" => Rec::Fact,
            r => {
                return match (MESSAGE_VARS.iter().position(|v| *v == r), field) {
                    (Some(i), None) => Some(Path::Msg(i)),
                    _ => None,
                };
            }
        };
        let field = field?;
        let known = match rec {
            Rec::Trigger => TRIGGER_FIELDS.contains(&field.as_str()),
            Rec::History => HISTORY_FIELDS.contains(&field.as_str()),
            _ => true,
        };
        known.then(|| Path::Field(rec, field.into()))
    }

    fn uint(&mut self) -> Option<usize> {
        let b = self.rest().as_bytes();
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 || b.get(n).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.') {
            return None;
        }
        let v = self.rest()[..n].parse().ok()?;
        self.i += n;
        Some(v)
    }

    fn string(&mut self) -> Option<Box<str>> {
        let q = *self.rest().as_bytes().first()?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let body = &self.rest()[1..];
        let end = body.find(q as char)?;
        let s = &body[..end];
        if s.contains('\\') {
            return None;
        }
        self.i += end + 2;
        Some(s.into())
    }

    fn arg(&mut self) -> Option<Arg> {
        self.ws();
        match self.rest().as_bytes().first() {
            Some(b'\'' | b'"') => self.string().map(Arg::Str),
            _ => self.path().map(Arg::Path),
        }
    }

    fn args(&mut self) -> Option<Vec<Arg>> {
        self.ws();
        if !self.eat("(") {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        self.ws();
        if self.eat(")") {
            return Some(out);
        }
        loop {
            out.push(self.arg()?);
            self.ws();
            if self.eat(")") {
                return Some(out);
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn expr(&mut self) -> Option<Expr> {
        self.ws();
        let path = self.path()?;
        self.ws();
        let slice = if self.eat("[") {
            self.ws();
            let start = if self.rest().starts_with(':') { None } else { Some(self.uint()?) };
            self.ws();
            if !self.eat(":") {
                return None;
            }
            self.ws();
            let stop = if self.rest().starts_with(']') { None } else { Some(self.uint()?) };
            self.ws();
            if !self.eat("]") {
                return None;
            }
            Some((start, stop))
        } else {
            None
        };
        let mut filters = Vec::new();
        loop {
            self.ws();
            if !self.eat("|") {
                break;
            }
            self.ws();
            let name = self.ident()?.to_owned();
            let args = self.args()?;
            let lit = |a: &Arg| match a {
                Arg::Str(s) => Some(s.clone()),
                Arg::Path(_) => None,
            };
            let f = match (name.as_str(), args.as_slice()) {
                ("first_name", []) => Filter::FirstName,
                ("default", [a]) => Filter::Default(a.clone()),
                ("default", []) => Filter::Default(Arg::Str("".into())),
                ("replace", [a, b]) => Filter::Replace(lit(a)?, lit(b)?),
                ("title", []) => Filter::Title,
                ("upper", []) => Filter::Upper,
                ("lower", []) => Filter::Lower,
                ("money", []) => Filter::Money(None),
                ("money", [a]) => Filter::Money(Some(lit(a)?)),
                // A bad format is minijinja's to report.
                ("date", []) => Filter::Date(super::render::date_items(None)?),
                ("date", [a]) => Filter::Date(super::render::date_items(Some(&lit(a)?))?),
                _ => return None,
            };
            filters.push(f);
        }
        Some(Expr { path, slice, filters })
    }
}

/// A record field as a template sees it: empty text is a missing field.
fn lookup<'a, S: Source + ?Sized>(src: &'a S, p: &'a Path) -> Val<'a> {
    match p {
        Path::Msg(i) => src.msg(*i),
        Path::Field(rec, name) => match src.field(*rec, name) {
            Val::Str(s) if s.is_empty() => Val::Undef,
            v => v,
        },
    }
}

/// A string value's text, or Bail for any other kind.
fn text(v: Val<'_>) -> Result<Cow<'_, str>, Bail> {
    match v {
        Val::Str(s) => Ok(s),
        Val::Time(t, tz) => local_time_text(t, Some(tz)).map(Cow::Owned).ok_or(Bail),
        _ => Err(Bail),
    }
}

impl Program {
    /// Render into `out` (appended); `html` escapes expression output as minijinja's HTML
    /// auto-escaping does.
    pub fn render<S: Source + ?Sized>(&self, src: &S, html: bool, out: &mut String) -> Result<(), Bail> {
        out.reserve(self.lit_len);
        render_segs(&self.segs, src, html, out)?;
        if out.len() > MAX_OUTPUT {
            return Err(Bail);
        }
        Ok(())
    }
}

fn render_segs<S: Source + ?Sized>(segs: &[Seg], src: &S, html: bool, out: &mut String) -> Result<(), Bail> {
    for s in segs {
        match s {
            Seg::Lit(l) => out.push_str(l),
            Seg::Expr(e) => {
                let v = eval(e, src)?;
                write_val(&v, html, out);
            }
            Seg::If(cond, then, otherwise) => {
                let branch = if lookup(src, cond).is_true() { then } else { otherwise };
                render_segs(branch, src, html, out)?;
            }
        }
        if out.len() > MAX_OUTPUT {
            return Err(Bail);
        }
    }
    Ok(())
}

fn eval<'a, S: Source + ?Sized>(e: &'a Expr, src: &'a S) -> Result<Val<'a>, Bail> {
    let mut v = lookup(src, &e.path);
    if let Some((start, stop)) = e.slice {
        let s = text(v)?;
        let start = start.unwrap_or(0);
        let sliced: String = match stop {
            Some(stop) => s.chars().skip(start).take(stop.saturating_sub(start)).collect(),
            None => s.chars().skip(start).collect(),
        };
        v = Val::Str(Cow::Owned(sliced));
    }
    for f in &e.filters {
        v = match f {
            Filter::FirstName => match v {
                Val::Str(Cow::Borrowed(s)) => Val::Str(Cow::Borrowed(s.split_whitespace().next().unwrap_or(""))),
                Val::Str(Cow::Owned(s)) => Val::Str(Cow::Owned(s.split_whitespace().next().unwrap_or("").to_owned())),
                other => other,
            },
            Filter::Default(arg) => match v {
                Val::Undef => match arg {
                    Arg::Str(s) => Val::Str(Cow::Borrowed(s)),
                    Arg::Path(p) => lookup(src, p),
                },
                other => other,
            },
            Filter::Replace(from, to) => {
                let s = text(v)?;
                let mut chars = from.chars();
                match (chars.next(), chars.next()) {
                    // One character: the same replacement, found with memchr.
                    (Some(c), None) if !s.contains(c) => Val::Str(s),
                    (Some(c), None) => Val::Str(Cow::Owned(s.replace(c, to))),
                    _ if !from.is_empty() && !s.contains(&**from) => Val::Str(s),
                    _ => Val::Str(Cow::Owned(s.replace(&**from, to))),
                }
            }
            Filter::Title => Val::Str(Cow::Owned(title(&text(v)?))),
            Filter::Upper => Val::Str(Cow::Owned(text(v)?.to_uppercase())),
            Filter::Lower => Val::Str(Cow::Owned(text(v)?.to_lowercase())),
            Filter::Money(sym) => {
                let x = match v {
                    Val::Undef => None,
                    Val::Time(..) => return Err(Bail),
                    Val::Str(s) => super::render::parse_amount(&s).map_err(|_| Bail)?,
                    Val::F64(x) => Some(x),
                    Val::U64(x) => Some(x as f64),
                    Val::I64(x) => Some(x as f64),
                };
                match x {
                    None => Val::Undef,
                    Some(x) => Val::Str(Cow::Owned(super::render::money_text(x, sym.as_deref()).map_err(|_| Bail)?)),
                }
            }
            Filter::Date(items) => match v {
                Val::Undef => Val::Undef,
                Val::Time(t, tz) => match super::render::date_at(t, tz, items) {
                    Some(d) => Val::Str(Cow::Owned(d)),
                    None => Val::Str(Cow::Owned(super::render::date_with(&text(v)?, items).map_err(|_| Bail)?)),
                },
                Val::Str(s) => Val::Str(Cow::Owned(super::render::date_with(&s, items).map_err(|_| Bail)?)),
                _ => return Err(Bail),
            },
        };
    }
    Ok(v)
}

/// minijinja's `title` filter.
fn title(v: &str) -> String {
    let mut rv = String::with_capacity(v.len());
    let mut capitalize = true;
    for c in v.chars() {
        if c.is_ascii_punctuation() || c.is_whitespace() {
            rv.push(c);
            capitalize = true;
        } else if capitalize {
            rv.extend(c.to_uppercase());
            capitalize = false;
        } else {
            rv.extend(c.to_lowercase());
        }
    }
    rv
}

/// A value printed as minijinja prints it (numbers and text; `html`: text HTML-escaped).
fn write_val(v: &Val<'_>, html: bool, out: &mut String) {
    match v {
        Val::Undef => {}
        Val::Time(t, tz) => {
            if let Some(s) = local_time_text(*t, Some(*tz)) {
                write_val(&Val::Str(Cow::Owned(s)), html, out);
            }
        }
        Val::Str(s) if html => escape_html(s, out),
        Val::Str(s) => out.push_str(s),
        Val::U64(x) => out.push_str(itoa::Buffer::new().format(*x)),
        Val::I64(x) => out.push_str(itoa::Buffer::new().format(*x)),
        Val::F64(x) => {
            if x.is_nan() {
                out.push_str("NaN");
            } else if x.is_infinite() {
                out.push_str(if x.is_sign_negative() { "-inf" } else { "inf" });
            } else {
                let start = out.len();
                let _ = write!(out, "{x}");
                if !out[start..].contains('.') {
                    out.push_str(".0");
                }
            }
        }
    }
}

/// minijinja's HTML escaping: `<`, `>`, `&`, `"`, `'` and `/`.
fn escape_html(s: &str, out: &mut String) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            b'/' => "&#x2f;",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}
