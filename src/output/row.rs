//! The one definition of an output row: its columns, in order, and each column's value. CSV,
//! JSON and JSONL all write rows through `Row::cell`, so they cannot disagree.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::csv_out::CsvOut;
use super::json_out;
use crate::input::time::{format_utc, utc_bytes};

/// The fixed columns of the plan, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    MessageId,
    CustomerId,
    Dialogue,
    Instance,
    Step,
    Attempt,
    Channel,
    Template,
    SendAt,
    Status,
    Trigger,
    TriggeredAt,
    Reason,
    Contact,
    /// Why the message is suppressed, or what the contact policy changed (fallback, deferral).
    PolicyNote,
}

impl Col {
    pub const ALL: [Col; 15] = [
        Col::MessageId,
        Col::CustomerId,
        Col::Dialogue,
        Col::Instance,
        Col::Step,
        Col::Attempt,
        Col::Channel,
        Col::Template,
        Col::SendAt,
        Col::Status,
        Col::Trigger,
        Col::TriggeredAt,
        Col::Reason,
        Col::Contact,
        Col::PolicyNote,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Col::MessageId => "message_id",
            Col::CustomerId => "customer_id",
            Col::Dialogue => "dialogue",
            Col::Instance => "instance",
            Col::Step => "step",
            Col::Attempt => "attempt",
            Col::Channel => "channel",
            Col::Template => "template",
            Col::SendAt => "send_at",
            Col::Status => "status",
            Col::Trigger => "trigger",
            Col::TriggeredAt => "triggered_at",
            Col::Reason => "reason",
            Col::Contact => "contact",
            Col::PolicyNote => "policy_note",
        }
    }
}

/// The fixed column names, in order.
pub const COLUMNS: [&str; 15] = {
    let mut names = [""; 15];
    let mut i = 0;
    while i < 15 {
        names[i] = Col::ALL[i].name();
        i += 1;
    }
    names
};

/// One value of a row, in the form each writer needs.
pub enum Cell<'a> {
    Text(&'a str),
    /// A 32-digit hex id, formatted without allocating.
    Hex(&'a [u8; 32]),
    Count(u64),
    /// A UTC instant, written `2025-03-01T10:00:00Z`.
    Time(i64),
}

/// One message with everything a mail tool needs.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub message_id: [u8; 32],
    pub customer_id: &'a str,
    pub dialogue: &'a str,
    pub instance: u32,
    pub step: &'a str,
    pub attempt: usize,
    pub channel: &'a str,
    pub template: &'a str,
    pub send_at: i64,
    pub status: &'static str,
    pub trigger: &'a str,
    pub triggered_at: i64,
    pub reason: &'a str,
    pub contact: &'a str,
    pub policy_note: String,
    /// With a catalogue: the item an announcement is about (empty for other messages);
    /// None without one (no `item_id` column).
    pub item_id: Option<&'a str>,
    /// The rendered message, when templates are configured (`None` otherwise, or for a
    /// message whose template has no part for its channel).
    pub content: Option<crate::template::Rendered>,
    /// The CSV fields of the columns the message's step fixes, rendered once per plan, for
    /// `write_csv` to append as they are.
    pub fixed_csv: Option<&'a FixedCsv>,
}

/// The columns a message's dialogue and step fix (`dialogue`; `step`, `attempt`, `channel`,
/// `template`) as CSV fields rendered by a `CsvOut::following` writer, exactly as `write_csv`
/// writes them one by one: every message of a step would otherwise check and copy the same
/// five names again (a 10M-row plan has millions of rows per step).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedCsv {
    dialogue: Vec<u8>,
    step_to_template: Vec<u8>,
}

impl FixedCsv {
    pub fn new(dialogue: &str, step: &str, attempt: usize, channel: &str, template: &str, escape: bool) -> Self {
        let mut d = CsvOut::following();
        write_text(&mut d, dialogue, escape);
        let mut w = CsvOut::following();
        write_text(&mut w, step, escape);
        w.plain(itoa::Buffer::new().format(attempt as u64).as_bytes());
        write_text(&mut w, channel, escape);
        write_text(&mut w, template, escape);
        Self { dialogue: d.into_inner(), step_to_template: w.into_inner() }
    }
}

/// The column after the fixed ones when a catalogue is given.
pub const ITEM_COLUMN: &str = "item_id";

/// The content columns, after the fixed ones (and `item_id`), when templates are configured.
pub const CONTENT_COLUMNS: [&str; 2] = ["subject", "body"];
/// Every field name content may add to a row (CSV: subject, body; JSON also these): a profile
/// column of one of these names is prefixed like one named after a fixed column.
pub const CONTENT_FIELDS: [&str; 5] = ["subject", "body", "html", "sms_segments", "sms_encoding"];

impl Row<'_> {
    pub fn cell(&self, c: Col) -> Cell<'_> {
        match c {
            Col::MessageId => Cell::Hex(&self.message_id),
            Col::CustomerId => Cell::Text(self.customer_id),
            Col::Dialogue => Cell::Text(self.dialogue),
            Col::Instance => Cell::Count(u64::from(self.instance)),
            Col::Step => Cell::Text(self.step),
            Col::Attempt => Cell::Count(self.attempt as u64),
            Col::Channel => Cell::Text(self.channel),
            Col::Template => Cell::Text(self.template),
            Col::SendAt => Cell::Time(self.send_at),
            Col::Status => Cell::Text(self.status),
            Col::Trigger => Cell::Text(self.trigger),
            Col::TriggeredAt => Cell::Time(self.triggered_at),
            Col::Reason => Cell::Text(self.reason),
            Col::Contact => Cell::Text(self.contact),
            Col::PolicyNote => Cell::Text(&self.policy_note),
        }
    }

    /// Write the content columns (`subject`, `body`) as CSV fields.
    pub fn write_content_csv(&self, w: &mut CsvOut, escape: bool) {
        let c = self.content.as_ref();
        write_text(w, c.and_then(|c| c.subject.as_deref()).unwrap_or(""), escape);
        write_text(w, c.map_or("", |c| c.body.as_str()), escape);
    }

    pub fn message_id(&self) -> &str {
        std::str::from_utf8(&self.message_id).unwrap_or_default()
    }

    /// Write the fixed columns as CSV fields (the record is ended by the caller); text is
    /// neutralised against spreadsheet formulas when `escape` is set.
    pub fn write_csv(&self, w: &mut CsvOut, escape: bool) {
        let mut num = itoa::Buffer::new();
        let mut time = LastTime::default();
        for c in Col::ALL {
            if let Some(f) = self.fixed_csv {
                match c {
                    Col::Dialogue => {
                        w.rendered(&f.dialogue, 1);
                        continue;
                    }
                    Col::Step => {
                        w.rendered(&f.step_to_template, 4);
                        continue;
                    }
                    Col::Attempt | Col::Channel | Col::Template => continue,
                    _ => {}
                }
            }
            match self.cell(c) {
                Cell::Text(s) => write_text(w, s, escape),
                Cell::Hex(h) => w.plain(h),
                Cell::Count(n) => w.plain(num.format(n).as_bytes()),
                Cell::Time(t) => w.plain(&time.utc(t)),
            }
        }
    }
}

/// The last timestamp a row formatted: a message's send time is often its trigger time.
#[derive(Default)]
struct LastTime(Option<(i64, [u8; 20])>);

impl LastTime {
    fn utc(&mut self, t: i64) -> [u8; 20] {
        match self.0 {
            Some((at, b)) if at == t => b,
            _ => {
                let b = utc_bytes(t);
                self.0 = Some((t, b));
                b
            }
        }
    }
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WithProfile(self, &[]).serialize(s)
    }
}

/// A row followed by the customer's profile columns (header name, text), as JSONL writes it:
/// the same fields as a CSV row. With content: `subject` and `body` after the fixed fields,
/// then `html` (email with an HTML part) and `sms_segments`/`sms_encoding` (SMS).
pub struct WithProfile<'r>(pub &'r Row<'r>, pub &'r [(&'r str, String)]);

impl Serialize for WithProfile<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(Col::ALL.len() + self.1.len()))?;
        let row = self.0;
        for c in Col::ALL {
            match row.cell(c) {
                Cell::Text(v) => m.serialize_entry(c.name(), v)?,
                Cell::Hex(h) => m.serialize_entry(c.name(), std::str::from_utf8(h).unwrap_or_default())?,
                Cell::Count(n) => m.serialize_entry(c.name(), &n)?,
                Cell::Time(t) => m.serialize_entry(c.name(), &format_utc(t))?,
            }
        }
        if let Some(item) = row.item_id {
            m.serialize_entry(ITEM_COLUMN, item)?;
        }
        if let Some(c) = &row.content {
            m.serialize_entry("subject", &c.subject)?;
            m.serialize_entry("body", &c.body)?;
            if let Some(h) = &c.html {
                m.serialize_entry("html", h)?;
            }
            if let Some(l) = &c.sms {
                m.serialize_entry("sms_segments", &l.segments)?;
                m.serialize_entry("sms_encoding", l.encoding.as_str())?;
            }
        }
        for (k, v) in self.1 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Row<'_> {
    /// The row as one JSON object followed by `profile` (header name, text): the bytes
    /// `serde_json` writes for `WithProfile(row, profile)`, without its machinery or a
    /// `String` per timestamp.
    pub fn write_json(&self, out: &mut Vec<u8>, profile: &[(&str, String)]) {
        let mut o = json_out::Obj::new(out);
        let mut time = LastTime::default();
        for c in Col::ALL {
            match self.cell(c) {
                Cell::Text(v) => o.str(c.name(), v),
                Cell::Hex(h) => o.str(c.name(), std::str::from_utf8(h).unwrap_or_default()),
                Cell::Count(n) => o.uint(c.name(), n),
                Cell::Time(t) => o.str(c.name(), std::str::from_utf8(&time.utc(t)).unwrap_or_default()),
            }
        }
        if let Some(item) = self.item_id {
            o.str(ITEM_COLUMN, item);
        }
        if let Some(c) = &self.content {
            json_out::opt_str(o.key("subject"), c.subject.as_deref());
            o.str("body", &c.body);
            if let Some(h) = &c.html {
                o.str("html", h);
            }
            if let Some(l) = &c.sms {
                o.uint("sms_segments", l.segments as u64);
                o.str("sms_encoding", l.encoding.as_str());
            }
        }
        for (k, v) in profile {
            o.str(k, v);
        }
        o.end();
    }
}

/// Would a spreadsheet read this cell as a formula? (OWASP: a leading `=`, `+`, `-`, `@`, tab
/// or carriage return.)
pub fn looks_like_formula(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// A text cell, with a leading `'` when it would start a formula and `escape` is set, so a
/// customer named `=HYPERLINK(...)` stays text when a marketer opens the plan.
#[inline]
pub fn write_text(w: &mut CsvOut, s: &str, escape: bool) {
    let prefix: &[u8] = if escape && looks_like_formula(s) { b"'" } else { b"" };
    w.field_with_prefix(prefix, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_only_when_asked() {
        let mut w = CsvOut::new(Vec::new());
        for s in ["=HYPERLINK(\"x\")", "+1 555", "-3", "@SUM(A1)", "\tx", "plain", ""] {
            write_text(&mut w, s, true);
        }
        write_text(&mut w, "=raw", false);
        w.end_record();
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\",'+1 555,'-3,'@SUM(A1),'\tx,plain,,=raw\n");
    }

    fn sample<'a>(text: &'a str, note: &str) -> Row<'a> {
        Row {
            message_id: *b"0123456789abcdef0123456789abcdef",
            customer_id: text,
            dialogue: "d\\1",
            instance: u32::MAX,
            step: text,
            attempt: 3,
            channel: "email",
            template: text,
            send_at: -1,
            status: "planned",
            trigger: "purchase",
            triggered_at: 253_402_300_799,
            reason: text,
            contact: "",
            policy_note: note.to_owned(),
            item_id: None,
            content: None,
            fixed_csv: None,
        }
    }

    /// A row written with its step's columns rendered once (`FixedCsv`) is the row written
    /// field by field: names that need quotes, look like formulas (escaped or not), or are
    /// empty.
    #[test]
    fn fixed_columns_rendered_once_are_the_fields_written_one_by_one() {
        let names = ["", "plain", "a,b", "say \"hi\"", "=SUM(A1)", "-x", "line\nbreak", "naïve", "\r"];
        for escape in [false, true] {
            for (i, d) in names.iter().enumerate() {
                for (j, st) in names.iter().enumerate() {
                    let (ch, tpl) = (names[(i + j) % names.len()], names[(i + 2 * j + 1) % names.len()]);
                    let mut row = sample("C1", "");
                    (row.dialogue, row.step, row.channel, row.template, row.attempt) = (d, st, ch, tpl, i * 7);
                    let mut plain = CsvOut::new(Vec::new());
                    row.write_csv(&mut plain, escape);
                    plain.end_record();
                    let fixed = FixedCsv::new(d, st, i * 7, ch, tpl, escape);
                    row.fixed_csv = Some(&fixed);
                    let mut once = CsvOut::new(Vec::new());
                    row.write_csv(&mut once, escape);
                    once.end_record();
                    assert_eq!(
                        String::from_utf8(once.into_inner()).unwrap(),
                        String::from_utf8(plain.into_inner()).unwrap(),
                        "{d:?} {st:?} {ch:?} {tpl:?} escape {escape}"
                    );
                }
            }
        }
    }

    #[test]
    fn json_rows_are_what_serde_json_writes() {
        use crate::template::sms::{Encoding, Length};
        use crate::template::Rendered;
        let texts = ["", "plain", "say \"hi\"\n\tand\\", "naïve – ✓ 🎉", "\u{1}\u{1f}\u{7f}"];
        let profile: Vec<(&str, String)> =
            vec![("name", "Ann \"A\"".into()), ("x\ny", "".into()), ("name", "dup".into())];
        for t in texts {
            for (item, content) in [
                (None, None),
                (Some(t), Some(Rendered { subject: None, body: t.into(), html: None, sms: None })),
                (
                    Some(""),
                    Some(Rendered {
                        subject: Some(t.into()),
                        body: "b".into(),
                        html: Some(format!("<p>{t}</p>")),
                        sms: Some(Length { encoding: Encoding::Ucs2, units: 3, segments: 12 }),
                    }),
                ),
            ] {
                let mut row = sample(t, t);
                row.item_id = item;
                row.content = content;
                for p in [&profile[..], &[]] {
                    let mut ours = Vec::new();
                    row.write_json(&mut ours, p);
                    let theirs = serde_json::to_string(&WithProfile(&row, p)).unwrap();
                    assert_eq!(String::from_utf8(ours).unwrap(), theirs);
                }
                let mut ours = Vec::new();
                row.write_json(&mut ours, &[]);
                let value = serde_json::to_string(&serde_json::to_value(&row).unwrap()).unwrap();
                assert_eq!(String::from_utf8(ours).unwrap(), value);
            }
        }
    }

    #[test]
    fn column_names_are_fixed() {
        assert_eq!(COLUMNS[0], "message_id");
        assert_eq!(COLUMNS[9], "status");
        assert_eq!(COLUMNS[14], "policy_note");
    }
}
