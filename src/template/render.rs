//! Filling a template for one message: the variables (`Vars`), the formatting filters users
//! need (money, dates in the customer's zone, first names), and the bounded render.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

use super::{fast, sms, Compiled, Field, Form, Part, Templates, MAX_OUTPUT};

/// What `trigger.*` holds.
#[derive(Debug, Clone, Default)]
pub struct TriggerVars<'a> {
    pub kind: &'a str,
    pub reason: &'a str,
    pub at: i64,
}

/// Everything one message offers its template. Records hold only the fields the template
/// reads (see `Needs`); an empty cell is left out, so `default` applies to it.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub customer_id: &'a str,
    pub dialogue: &'a str,
    pub instance: u32,
    pub step: &'a str,
    pub attempt: usize,
    pub channel: &'a str,
    pub contact: &'a str,
    pub template: &'a str,
    pub message_id: &'a str,
    pub send_at: i64,
    /// The customer's time zone: every instant is shown in it.
    pub tz: Option<chrono_tz::Tz>,
    pub customer: Vec<(&'a str, Value)>,
    /// `customer` built already (once per customer, shared by their messages); wins over
    /// `customer` when given.
    pub customer_value: Option<Value>,
    pub event: Vec<(&'a str, Value)>,
    /// The catalogue row an announcement is about.
    pub item: Vec<(&'a str, Value)>,
    pub trigger: TriggerVars<'a>,
    pub history: Vec<(&'static str, Value)>,
    pub facts: Vec<(&'a str, &'a str)>,
}

/// A message's rendered content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    /// The text a channel sends: the email's text body, the SMS, the letter (address block,
    /// blank line, body), the call script.
    pub body: String,
    pub html: Option<String>,
    /// For SMS: its length on the wire.
    pub sms: Option<sms::Length>,
}

/// A render that failed, with the template and field named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RenderError {}

/// An instant as RFC 3339 in `tz` (UTC when none is known).
pub fn local_time(t: i64, tz: Option<chrono_tz::Tz>) -> Value {
    local_time_text(t, tz).map_or(Value::UNDEFINED, Value::from)
}

/// `local_time`'s text; None for an instant chrono cannot represent.
pub fn local_time_text(t: i64, tz: Option<chrono_tz::Tz>) -> Option<String> {
    let utc = DateTime::from_timestamp(t, 0)?;
    let fixed: DateTime<FixedOffset> = match tz {
        Some(tz) => utc.with_timezone(&tz).fixed_offset(),
        None => utc.fixed_offset(),
    };
    Some(fixed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A record (`customer`, `event`, `history`, `fact`) as a template value: fields looked up
/// by name, in a vector (a handful of fields: faster to build than a map, per message).
#[derive(Debug)]
struct Record(Vec<(String, Value)>);

impl minijinja::value::Object for Record {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.0.iter().map(|(k, _)| Value::from(k.as_str())).collect())
    }
}

/// A record of fields as a template value; empty cells are left out.
pub fn record<'k>(fields: impl IntoIterator<Item = (&'k str, Value)>) -> Value {
    let v: Vec<(String, Value)> = fields
        .into_iter()
        .filter(|(_, v)| !v.is_undefined() && v.as_str() != Some(""))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Value::from_object(Record(v))
}

/// The variables of one message, looked up by name without building a map.
#[derive(Debug)]
struct Root {
    scalars: [(&'static str, Value); 10],
    customer: Value,
    event: Value,
    item: Value,
    trigger: Value,
    history: Value,
    fact: Value,
}

impl minijinja::value::Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        match k {
            "customer" => Some(self.customer.clone()),
            "event" => Some(self.event.clone()),
            "item" => Some(self.item.clone()),
            "trigger" => Some(self.trigger.clone()),
            "history" => Some(self.history.clone()),
            "fact" => Some(self.fact.clone()),
            _ => self.scalars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let mut keys: Vec<Value> = self.scalars.iter().map(|(k, _)| Value::from(*k)).collect();
        keys.extend(super::RECORDS.iter().map(|k| Value::from(*k)));
        minijinja::value::Enumerator::Values(keys)
    }
}

impl Vars<'_> {
    fn context(&self) -> Value {
        let customer = match &self.customer_value {
            Some(v) => v.clone(),
            None => record(self.customer.iter().map(|(k, v)| (*k, v.clone()))),
        };
        let trigger = record([
            ("kind", Value::from(self.trigger.kind)),
            ("reason", Value::from(self.trigger.reason)),
            ("at", local_time(self.trigger.at, self.tz)),
        ]);
        Value::from_object(Root {
            scalars: [
                ("customer_id", Value::from(self.customer_id)),
                ("dialogue", Value::from(self.dialogue)),
                ("instance", Value::from(self.instance)),
                ("step", Value::from(self.step)),
                ("attempt", Value::from(self.attempt)),
                ("channel", Value::from(self.channel)),
                ("contact", Value::from(self.contact)),
                ("template", Value::from(self.template)),
                ("message_id", Value::from(self.message_id)),
                ("send_at", local_time(self.send_at, self.tz)),
            ],
            customer,
            event: record(self.event.iter().map(|(k, v)| (*k, v.clone()))),
            item: record(self.item.iter().map(|(k, v)| (*k, v.clone()))),
            trigger,
            history: record(self.history.iter().map(|(k, v)| (*k, v.clone()))),
            fact: record(self.facts.iter().map(|(k, v)| (*k, Value::from(*v)))),
        })
    }
}

/// A part's fields rendered by `field` into a message's content: the subject on one line,
/// the address block before the body, an SMS's length.
fn assemble<E>(part: &Part, html: bool, mut field: impl FnMut(&Compiled) -> Result<String, E>) -> Result<Rendered, E> {
    let mut out = Rendered::default();
    let mut address = None;
    for (f, c) in &part.fields {
        if *f == Field::Html && !html {
            continue;
        }
        let text = field(c)?;
        match f {
            Field::Subject => {
                let t = text.trim();
                out.subject = Some(if t.contains(['\r', '\n']) {
                    t.replace(['\r', '\n'], " ")
                } else if t.len() == text.len() {
                    text
                } else {
                    t.to_owned()
                });
            }
            Field::Html => out.html = Some(text),
            Field::Address => address = Some(text),
            Field::Text | Field::Body | Field::Script => {
                if out.body.is_empty() {
                    out.body = text
                }
            }
        }
    }
    if let Some(a) = address.filter(|a| !a.trim().is_empty()) {
        let a = a.trim_end();
        let mut body = String::with_capacity(a.len() + 2 + out.body.len());
        body.push_str(a);
        body.push_str("\n\n");
        body.push_str(&out.body);
        out.body = body;
    }
    if part.form == Form::Sms {
        out.sms = Some(sms::length(&out.body));
    }
    Ok(out)
}

/// A writer that refuses more than `MAX_OUTPUT` bytes.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            return Err(std::io::Error::other(format!("the output passed {} KiB", MAX_OUTPUT / 1024)));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Templates {
    /// Render `key`'s part for `channel` for one message. A template without that part (the
    /// checks report it) renders nothing.
    pub fn render(&self, key: &str, channel: &str, vars: &Vars<'_>) -> Result<Option<Rendered>, RenderError> {
        self.render_parts(key, channel, vars, true)
    }

    /// `render`, leaving the HTML part out unless `html` (CSV has no column for it).
    pub fn render_parts(
        &self,
        key: &str,
        channel: &str,
        vars: &Vars<'_>,
        html: bool,
    ) -> Result<Option<Rendered>, RenderError> {
        let Some(t) = self.keys.get(key) else { return Ok(None) };
        let Some(part) = t.parts.get(channel) else { return Ok(None) };
        let ctx = vars.context();
        let field = |c: &Compiled| -> Result<String, RenderError> {
            let tpl = self.env.get_template(&c.name).map_err(|e| self.error(t, c, vars, &e))?;
            let mut w = Capped(Vec::new());
            let what = || self.what(t, c, vars, String::new());
            crate::budget::within(&what, || tpl.render_captured_to(&ctx, &mut w))
                .map_err(|e| self.error(t, c, vars, &e))?;
            Ok(String::from_utf8(w.0).unwrap_or_default())
        };
        assemble(part, html, field).map(Some)
    }

    /// `render_parts` on the fast path, reading the message's variables from `src`: `Bail`
    /// when the part has a field outside the fast path's subset, or this message's values
    /// need minijinja (the caller then renders with `render_parts`, which gives the same
    /// text, or the error).
    pub fn render_fast<S: fast::Source + ?Sized>(
        &self,
        key: &str,
        channel: &str,
        src: &S,
        html: bool,
    ) -> Result<Option<Rendered>, fast::Bail> {
        let Some(t) = self.keys.get(key) else { return Ok(None) };
        let Some(part) = t.parts.get(channel) else { return Ok(None) };
        part.render_fast(src, html).map(Some)
    }

    fn error(&self, t: &super::Template, c: &super::Compiled, vars: &Vars<'_>, e: &Error) -> RenderError {
        let line = source_line(t, c, e).map_or_else(String::new, |l| format!(":{l}"));
        let what = match e.kind() {
            ErrorKind::OutOfFuel => "it ran too long (out of fuel: a loop that does not end?)".to_owned(),
            ErrorKind::WriteFailure => format!("the output passed {} KiB", MAX_OUTPUT / 1024),
            _ => e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
        };
        RenderError { message: format!("{} stopped: {what}", self.what(t, c, vars, line)) }
    }

    /// `file[:line]: rendering `part` for customer C (dialogue step s)`: which render failed.
    fn what(&self, t: &super::Template, c: &super::Compiled, vars: &Vars<'_>, line: String) -> String {
        format!(
            "{}{line}: rendering `{}` for customer {} ({} step {})",
            t.file.display(),
            c.name,
            vars.customer_id,
            vars.dialogue,
            vars.step
        )
    }
}

/// The file line of a render error: where its span (else its line) of the field's value comes
/// from in the YAML source, through quotes, escapes and folding (as `check` places errors);
/// failing that, the field's line plus the error's line within it.
fn source_line(t: &super::Template, c: &super::Compiled, e: &Error) -> Option<usize> {
    let in_source = e
        .range()
        .or_else(|| e.line().and_then(|l| super::line_range(&c.value, l)))
        .and_then(|r| crate::yaml::scalar_range(&t.src, c.node, &c.value, r));
    if let Some(r) = in_source {
        return Some(crate::diag::line_col(&t.src, r.start).0);
    }
    let l = e.line()?;
    let (file_line, _) = crate::diag::line_col(&t.src, c.node);
    // A block scalar's text starts on the line after its indicator.
    let first = if t.src[c.node..].starts_with(['|', '>']) { file_line + 1 } else { file_line };
    Some(first + l - 1)
}

impl Part {
    /// `Templates::render_fast` of this part.
    pub fn render_fast<S: fast::Source + ?Sized>(&self, src: &S, html: bool) -> Result<Rendered, fast::Bail> {
        let field = |c: &Compiled| -> Result<String, fast::Bail> {
            let mut out = String::new();
            c.fast.as_ref().ok_or(fast::Bail)?.render(src, c.name.ends_with(".html"), &mut out)?;
            Ok(out)
        };
        assemble(self, html, field)
    }
}

/// The formatting filters: `money`, `date`, `first_name` (minijinja's own `title`, `default`,
/// `upper`, `round`, ... stay available).
pub fn add_filters(env: &mut minijinja::Environment<'static>) {
    env.add_filter("money", money);
    env.add_filter("date", date);
    env.add_filter("first_name", first_name);
}

/// A number read from a value: numbers as they are, text parsed (`"13.99"`).
fn number(v: &Value) -> Result<Option<f64>, Error> {
    if v.is_undefined() || v.is_none() {
        return Ok(None);
    }
    if let Some(s) = v.as_str() {
        return parse_amount(s);
    }
    f64::try_from(v.clone())
        .map(Some)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("money: {v} is not a number")))
}

/// An amount given as text (`"13.99"`); blank text is no amount.
pub(super) fn parse_amount(s: &str) -> Result<Option<f64>, Error> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<f64>()
        .map(Some)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("money: {s:?} is not a number")))
}

/// `{{ amount | money }}` → `1,110.62`; `{{ amount | money("$") }}` → `$1,110.62`. Exact: the
/// amount is rounded to cents in integer micro-units.
fn money(v: Value, symbol: Option<String>) -> Result<Value, Error> {
    let Some(x) = number(&v)? else { return Ok(Value::UNDEFINED) };
    money_text(x, symbol.as_deref()).map(Value::from)
}

/// The magnitude from which `money` refuses an amount.
const MONEY_MAX: f64 = 1e13;

/// The text of `money` for amount `x`.
pub(super) fn money_text(x: f64, symbol: Option<&str>) -> Result<String, Error> {
    if !x.is_finite() {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("money: {x} is not an amount")));
    }
    // Past 10^13 a number (a double) no longer holds every cent: 1e18 would show as
    // $999,999,999,999,999,983.22, and past 1.7e32 the micro-units overflow.
    if x.abs() >= MONEY_MAX {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("money: {x} is too large to show exactly to the cent (the largest is 9,999,999,999,999.99)"),
        ));
    }
    let micros = crate::model::to_micros(x);
    let cents = (micros + if micros < 0 { -5_000 } else { 5_000 }) / 10_000;
    let (neg, cents) = (cents < 0, cents.unsigned_abs());
    let mut num = itoa::Buffer::new();
    let whole = num.format(cents / 100);
    let symbol = symbol.unwrap_or_default();
    let mut out = String::with_capacity(whole.len() * 4 / 3 + symbol.len() + 4);
    if neg {
        out.push('-');
    }
    out.push_str(symbol);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    let c = (cents % 100) as u8;
    out.push('.');
    out.push(char::from(b'0' + c / 10));
    out.push(char::from(b'0' + c % 10));
    Ok(out)
}

/// `{{ send_at | date }}` → `5 March 2025`; `{{ send_at | date("%d/%m/%Y") }}` (strftime).
/// Instants are already in the customer's zone; a plain `2025-03-05` is a date.
fn date(v: Value, format: Option<String>) -> Result<Value, Error> {
    if v.is_undefined() || v.is_none() {
        return Ok(Value::UNDEFINED);
    }
    let s = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    date_text(&s, format.as_deref()).map(Value::from)
}

/// The text of `date` for `s` (an RFC 3339 instant or a plain date).
pub(super) fn date_text(s: &str, format: Option<&str>) -> Result<String, Error> {
    let fmt = format.unwrap_or("%-d %B %Y");
    let items: Vec<chrono::format::Item<'_>> = chrono::format::StrftimeItems::new(fmt).collect();
    if items.iter().any(|i| matches!(i, chrono::format::Item::Error)) {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("date: {fmt:?} is not a strftime format")));
    }
    date_with(s, &items)
}

/// `date`'s format compiled, None when it is no strftime format.
pub(super) fn date_items(format: Option<&str>) -> Option<Vec<chrono::format::Item<'static>>> {
    chrono::format::StrftimeItems::new(format.unwrap_or("%-d %B %Y")).parse_to_owned().ok()
}

/// `date_text` with the format compiled.
pub(super) fn date_with(s: &str, items: &[chrono::format::Item<'_>]) -> Result<String, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.format_with_items(items.iter()).to_string());
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => {
            let midnight = d.and_hms_opt(0, 0, 0).map(|n| chrono::Utc.from_utc_datetime(&n));
            match midnight {
                Some(m) => Ok(m.format_with_items(items.iter()).to_string()),
                None => Ok(s.to_owned()),
            }
        }
        Err(_) => Err(Error::new(ErrorKind::InvalidOperation, format!("date: {s:?} is not a date"))),
    }
}

/// `date` of instant `t` shown in `tz`, as `date_with` of its `local_time` text gives it;
/// None when the zone's offset has seconds (RFC 3339 text drops them, so the text must be
/// read back).
pub(super) fn date_at(t: i64, tz: chrono_tz::Tz, items: &[chrono::format::Item<'_>]) -> Option<String> {
    let fixed = DateTime::from_timestamp(t, 0)?.with_timezone(&tz).fixed_offset();
    if fixed.offset().local_minus_utc() % 60 != 0 {
        return None;
    }
    let mut out = String::with_capacity(32);
    write!(out, "{}", fixed.format_with_items(items.iter())).ok()?;
    Some(out)
}

/// `{{ customer.name | first_name }}` → the first word.
fn first_name(v: Value) -> Value {
    match v.as_str() {
        Some(s) => Value::from(s.split_whitespace().next().unwrap_or("")),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value, s: Option<&str>) -> String {
        money(v, s.map(str::to_owned)).unwrap().to_string()
    }

    #[test]
    fn money_groups_thousands_and_rounds_exactly_to_cents() {
        assert_eq!(m(Value::from(1110.62), None), "1,110.62");
        assert_eq!(m(Value::from(1234567.005), Some("$")), "$1,234,567.01");
        assert_eq!(m(Value::from("13.9"), Some("€")), "€13.90");
        assert_eq!(m(Value::from(-2.5), None), "-2.50");
        assert_eq!(m(Value::from(0.125), None), "0.13", "half a cent rounds away from zero");
        assert_eq!(m(Value::from(999.999), None), "1,000.00");
        assert!(money(Value::UNDEFINED, None).unwrap().is_undefined(), "a missing amount stays missing for `default`");
        assert!(money(Value::from("abc"), None).is_err());
        assert_eq!(m(Value::from(9_999_999_999_999.99), None), "9,999,999,999,999.99");
        assert_eq!(m(Value::from(-9_999_999_999_999.99), None), "-9,999,999,999,999.99");
        for big in [1e13, -1e13, 1e18, 1.8e32, 1e40, -1e40, f64::MAX] {
            let e = money(Value::from(big), Some("$".into())).unwrap_err();
            assert!(e.to_string().contains("too large to show exactly to the cent"), "{big}: {e}");
        }
    }

    #[test]
    fn dates_keep_the_zone_they_carry_and_check_the_format() {
        let v = local_time(1_741_168_800, Some(chrono_tz::America::Los_Angeles)); // 2025-03-05T10:00:00Z
        assert_eq!(v.as_str(), Some("2025-03-05T02:00:00-08:00"));
        assert_eq!(date(v.clone(), None).unwrap().to_string(), "5 March 2025");
        assert_eq!(date(v, Some("%d/%m/%Y %H:%M".into())).unwrap().to_string(), "05/03/2025 02:00");
        assert_eq!(date(Value::from("2025-12-24"), Some("%A".into())).unwrap().to_string(), "Wednesday");
        assert!(date(Value::from("2025-12-24"), Some("%Q".into())).is_err(), "a bad strftime is an error, not a panic");
        assert!(date(Value::from("soon"), None).is_err());
    }

    #[test]
    fn first_name_is_the_first_word() {
        assert_eq!(first_name(Value::from("Emily  Williams")).to_string(), "Emily");
        assert_eq!(first_name(Value::from("")).to_string(), "");
    }
}
