//! Output stage: message plans as CSV, JSON (per customer, per dialogue instance) or JSONL.
//! Every format writes the rows defined once in `row`; `stream` drives evaluation and writing
//! in parallel with deterministic order; `sink` makes files appear atomically.

pub mod content;
pub mod csv_out;
pub mod json_out;
pub mod mail;
pub mod row;
pub mod sink;
pub mod stream;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::io;

use serde_json::{Map, Value};

use crate::dialogue::Plan;
use crate::engine::{status, CustomerResult, EventRef, Instance, Message};
use crate::ids::hex32;
use crate::input::time::format_utc;
use crate::input::{Data, Table};
use crate::template::fast::{Rec, Source, Val};
use crate::template::render::TriggerVars;
use crate::template::{Rendered, Templates, Vars, MESSAGE_VARS};

pub use row::{Col, Row, COLUMNS};
pub use sink::Sink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
    /// One RFC 5322 file per email message, in a folder.
    Eml,
    /// Email messages as one mbox stream.
    Mbox,
}

impl Format {
    /// Formats that carry email messages only.
    pub fn is_mail(self) -> bool {
        matches!(self, Format::Eml | Format::Mbox)
    }

    /// Its name as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Eml => "eml",
            Format::Mbox => "mbox",
        }
    }
}

/// Which messages to write.
#[derive(Debug, Clone)]
pub struct Selection {
    pub as_of: i64,
    /// Only messages sent after this instant (and not after `as_of`): the nightly window.
    pub since: Option<i64>,
    pub include_suppressed: bool,
    /// A nightly run against the sent ledger.
    pub ledger: Option<LedgerSel>,
    /// `--reemit`: exactly the messages a ledger recorded on one night, by id, each with the
    /// status it was emitted with.
    pub reemit: Option<std::sync::Arc<std::collections::HashMap<u128, String>>>,
}

/// A run with a ledger emits what is due by the end of the as-of day and not recorded yet.
#[derive(Debug, Clone)]
pub struct LedgerSel {
    /// The ids the ledger holds (128-bit message hashes).
    pub held: std::sync::Arc<std::collections::HashSet<u128>>,
    /// The first instant of the as-of day: earlier messages are `late`.
    pub day_start: i64,
    /// Messages due before this are `expired`, not sent.
    pub oldest: i64,
    /// Messages due before this were already past `--max-late` on the ledger's first night
    /// (counted expired then): from before the ledger, not lost since, so neither counted nor
    /// written again. None on a ledger's first night.
    pub before_ledger: Option<i64>,
    pub max_late: i64,
    /// The night recorded with each emitted message (the as-of date).
    pub night: String,
    /// A sharded run's `K/N`, recorded with each entry so a ledger never mixes shard splits.
    pub shard: Option<String>,
}

/// Where a message stands in a run with a ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Recorded already, or not due yet: not written.
    Skip,
    Due,
    Late,
    Expired,
    Suppressed,
}

/// What the writer needs besides the data and the plan.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tz: chrono_tz::Tz,
    /// Per channel: the customer-file column holding its address.
    pub contact_fields: Vec<(String, String)>,
    /// Neutralise spreadsheet formulas in CSV text cells (`--raw-csv` turns it off).
    pub escape_formulas: bool,
    /// Carry the customer's profile columns after the fixed ones (`--no-profile` leaves them out).
    pub with_profile: bool,
    /// The customer column holding each customer's time zone (content shows times in it).
    pub timezone_column: Option<String>,
}

pub struct Writer<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub sel: Selection,
    tz: chrono_tz::Tz,
    escape: bool,
    /// The profile columns' output names (a name taken by a fixed column gets `profile_`),
    /// empty without profile output.
    profile_headers: Vec<String>,
    /// Per channel used in the plan: the profile column holding its address.
    contact_cols: Vec<(String, Option<usize>)>,
    /// Message content, when the project has templates.
    templates: Option<&'a Templates>,
    tz_col: Option<usize>,
    /// The sender of `eml`/`mbox` messages.
    sender: Option<mail::Sender>,
    /// `sel.as_of` and its local day, for the status of every message.
    as_of_day: (i64, i64),
    fixed_csv: FixedCsvs,
}

/// The CSV fields each (dialogue, step, attempt, variant, channel) of the plan fixes, rendered
/// once (`row::FixedCsv`), in the plan's own nesting.
struct FixedCsvs(Vec<Vec<Vec<Vec<Vec<row::FixedCsv>>>>>);

impl FixedCsvs {
    fn new(plan: &Plan, escape: bool) -> Self {
        use crate::dialogue::plan::{Msg, Step};
        use crate::dialogue::Dialogue;
        let of_step = |d: &Dialogue, s: &Step| -> Vec<Vec<Vec<row::FixedCsv>>> {
            let field =
                |attempt, ch: &str, template: &str| row::FixedCsv::new(&d.id, &s.id, attempt, ch, template, escape);
            let rung = |(a, r): (usize, &Msg)| {
                r.variants.iter().map(|v| v.channels.iter().map(|ch| field(a, ch, &v.template)).collect()).collect()
            };
            s.ladder.iter().enumerate().map(rung).collect()
        };
        Self(plan.dialogues.iter().map(|d| d.steps.iter().map(|s| of_step(d, s)).collect()).collect())
    }

    /// The fields of message `m` of an instance of dialogue `d`.
    fn of(&self, d: usize, m: &Message) -> &row::FixedCsv {
        &self.0[d][m.step][m.attempt][m.variant][m.channel]
    }
}

/// A worker's output for a run of consecutive customers, in the chosen format.
pub enum Chunk {
    Csv(csv_out::CsvOut),
    Bytes(Vec<u8>),
}

impl Chunk {
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self {
            Chunk::Csv(w) => Ok(w.into_inner()),
            Chunk::Bytes(b) => Ok(b),
        }
    }
}

impl<'a> Writer<'a> {
    pub fn new(data: &'a Data, plan: &'a Plan, layout: &Layout, sel: Selection) -> Self {
        let mut contact_cols: Vec<(String, Option<usize>)> = Vec::new();
        for d in &plan.dialogues {
            for s in &d.steps {
                for ch in s.ladder.iter().flat_map(|m| m.variants.iter().flat_map(|v| v.channels.iter())) {
                    if !contact_cols.iter().any(|(c, _)| c == ch) {
                        let field = layout.contact_fields.iter().find(|(c, _)| c == ch).map(|(_, f)| f.as_str());
                        let col = match (&data.customers, field) {
                            (Some(t), Some(f)) => t.col(f),
                            _ => None,
                        };
                        contact_cols.push((ch.clone(), col));
                    }
                }
            }
        }
        let mut profile_headers: Vec<String> = Vec::new();
        if layout.with_profile {
            for name in data.customers.as_ref().map_or(&[][..], |t| &t.names[..]) {
                // A profile column named like a fixed column (`status`, `contact`) or a content
                // field (`subject`, `html`) gets a `profile_` prefix, so every field name is
                // unique, with or without templates.
                let mut h = name.clone();
                while COLUMNS.contains(&h.as_str())
                    || (data.catalog.is_some() && h == row::ITEM_COLUMN)
                    || row::CONTENT_FIELDS.contains(&h.as_str())
                    || profile_headers.contains(&h)
                {
                    h = format!("profile_{h}");
                }
                profile_headers.push(h);
            }
        }
        let sel_as_of = sel.as_of;
        let tz_col = match (&data.customers, &layout.timezone_column) {
            (Some(t), Some(c)) => t.col(c),
            _ => None,
        };
        Self {
            fixed_csv: FixedCsvs::new(plan, layout.escape_formulas),
            data,
            plan,
            sel,
            tz: layout.tz,
            escape: layout.escape_formulas,
            profile_headers,
            contact_cols,
            templates: None,
            tz_col,
            sender: None,
            as_of_day: (sel_as_of, crate::input::time::local_day(sel_as_of, layout.tz)),
        }
    }

    /// The sender of `eml`/`mbox` messages.
    pub fn with_sender(mut self, sender: Option<mail::Sender>) -> Self {
        self.sender = sender;
        self
    }

    /// Can message `m` go out as an email: its channel's part is an email part, and the
    /// customer has an address? (Suppressed messages never reach mail: `--include-suppressed`
    /// is refused with it, and a ledger never records them for `--reemit`.)
    fn is_mail(&self, r: &CustomerResult, m: &Message) -> bool {
        let inst = &r.instances[m.instance];
        let v = &self.plan.dialogues[inst.dialogue].steps[m.step].ladder[m.attempt].variants[m.variant];
        let channel = &v.channels[m.channel];
        let part = self.templates.and_then(|t| t.get(&v.template)).and_then(|t| t.parts.get(channel));
        part.is_some_and(|p| p.form == crate::template::Form::Email)
            && mail::is_plain_address(self.contact(r, channel, m.send_at).trim())
    }

    /// Render message content with these templates.
    pub fn with_templates(mut self, templates: Option<&'a Templates>) -> Self {
        self.templates = templates;
        self
    }

    pub fn has_content(&self) -> bool {
        self.templates.is_some()
    }

    /// The customer's time zone: their profile's, else the project's.
    fn customer_tz(&self, r: &CustomerResult) -> chrono_tz::Tz {
        match (&self.data.customers, self.data.people[r.person].profile, self.tz_col) {
            (Some(t), Some(row), Some(c)) => t.str_at(c, row).parse().unwrap_or(self.tz),
            _ => self.tz,
        }
    }

    /// The rendered content of a message, when templates are configured.
    pub fn content(&self, r: &CustomerResult, m: &Message, row: &Row<'_>) -> io::Result<Option<Rendered>> {
        self.content_with(r, m, row, &OnceCell::new(), true)
    }

    /// The customer's profile as one template value, built once for all their messages
    /// (None when there are no templates, or `profile_update` events change it over time).
    fn customer_value(&self, r: &CustomerResult) -> Option<minijinja::Value> {
        self.templates?;
        if !r.profile_updates.is_empty() {
            return None;
        }
        let fields = match (&self.data.customers, self.data.people[r.person].profile) {
            (Some(tab), Some(at)) => content::fields(tab, at, None),
            _ => Vec::new(),
        };
        Some(crate::template::render::record(fields))
    }

    /// `customer_value` is filled on first use (by a message minijinja renders).
    fn content_with(
        &self,
        r: &CustomerResult,
        m: &Message,
        row: &Row<'_>,
        customer_value: &OnceCell<Option<minijinja::Value>>,
        html: bool,
    ) -> io::Result<Option<Rendered>> {
        let Some(ts) = self.templates else { return Ok(None) };
        let Some(t) = ts.get(row.template) else { return Ok(None) };
        let Some(part) = t.parts.get(row.channel) else { return Ok(None) };
        let tz = self.customer_tz(r);
        if part.is_fast() {
            if let Ok(c) = self.content_fast(part, r, m, row, tz, html) {
                return Ok(Some(c));
            }
        }
        self.content_minijinja(ts, t, r, m, row, tz, customer_value, html)
    }

    /// The content of a message on the template fast path (`Bail`: minijinja must render it).
    fn content_fast(
        &self,
        part: &crate::template::Part,
        r: &CustomerResult,
        m: &Message,
        row: &Row<'_>,
        tz: chrono_tz::Tz,
        html: bool,
    ) -> Result<Rendered, crate::template::fast::Bail> {
        let src = MsgSource { w: self, r, m, row, tz, history: OnceCell::new(), facts: OnceCell::new() };
        part.render_fast(&src, html)
    }

    /// The content of a message rendered by minijinja, from the message's variables.
    #[allow(clippy::too_many_arguments)]
    fn content_minijinja(
        &self,
        ts: &Templates,
        t: &crate::template::Template,
        r: &CustomerResult,
        m: &Message,
        row: &Row<'_>,
        tz: chrono_tz::Tz,
        customer_value: &OnceCell<Option<minijinja::Value>>,
        html: bool,
    ) -> io::Result<Option<Rendered>> {
        let customer_value = customer_value.get_or_init(|| self.customer_value(r)).as_ref();
        let needs = &t.needs;
        let person = &self.data.people[r.person];
        let mut customer = match (&self.data.customers, person.profile, customer_value) {
            (_, _, Some(_)) => Vec::new(),
            (Some(tab), Some(at), None) => content::fields(tab, at, needs.customer.as_ref()),
            _ => Vec::new(),
        };
        // Profile fields as `profile_update` events left them by the send time.
        if let Some(tab) = &self.data.customers {
            for (_, col, _) in &r.profile_updates {
                let name = tab.names[*col].as_str();
                if needs.customer.as_ref().is_some_and(|n| !n.contains(name)) {
                    continue;
                }
                let Some(v) = r.profile_at(*col, m.send_at) else { continue };
                let value = match tab.num_col(*col) {
                    Some(_) => {
                        v.trim().parse::<f64>().map_or(minijinja::Value::UNDEFINED, crate::template::fast::number_value)
                    }
                    None => minijinja::Value::from(v),
                };
                match customer.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = value,
                    None => customer.push((name, value)),
                }
            }
        }
        let event = match m.event {
            Some(EventRef::Purchase(x)) => content::fields(&self.data.tx, x, needs.event.as_ref()),
            Some(EventRef::Other(x)) => match &self.data.events {
                Some(tab) => content::fields(tab, x, needs.event.as_ref()),
                None => Vec::new(),
            },
            Some(EventRef::Item(_)) | None => Vec::new(),
        };
        // An announcement's catalogue row, for every message of its instance.
        let item = match (r.instances[m.instance].event, &self.data.catalog) {
            (Some(EventRef::Item(x)), Some(tab)) => content::fields(tab, x, needs.item.as_ref()),
            _ => Vec::new(),
        };
        let history =
            if needs.history { content::history(&self.data.tx, person.tx.clone(), m.send_at, tz) } else { Vec::new() };
        let inst = &r.instances[m.instance];
        let vars = Vars {
            customer_id: row.customer_id,
            dialogue: row.dialogue,
            instance: row.instance,
            step: row.step,
            attempt: row.attempt,
            channel: row.channel,
            contact: row.contact,
            template: row.template,
            message_id: row.message_id(),
            send_at: row.send_at,
            tz: Some(tz),
            customer,
            customer_value: customer_value.cloned(),
            event,
            item,
            trigger: TriggerVars { kind: &inst.trigger, reason: &inst.reason, at: inst.triggered_at },
            history,
            facts: if needs.facts {
                r.facts_at(m.send_at).into_iter().map(|(i, v)| (self.plan.facts[i].as_str(), v)).collect()
            } else {
                Vec::new()
            },
        };
        ts.render_parts(row.template, row.channel, &vars, html).map_err(|e| {
            // The rows the template read, so a bad value (a profile's `n/a` birthday) is found
            // in its file.
            let at = |t: &Table, row: usize| format!("{}:{}", t.path.display(), t.line[row]);
            let mut read = Vec::new();
            if let (Some(tab), Some(p)) = (&self.data.customers, person.profile) {
                read.push(format!("the profile at {}", at(tab, p)));
            }
            match (m.event, &self.data.events) {
                (Some(EventRef::Purchase(x)), _) => read.push(format!("the event at {}", at(&self.data.tx, x))),
                (Some(EventRef::Other(x)), Some(tab)) => read.push(format!("the event at {}", at(tab, x))),
                _ => {}
            }
            if let (Some(EventRef::Item(x)), Some(tab)) = (inst.event, &self.data.catalog) {
                read.push(format!("the item at {}", at(tab, x)));
            }
            match read.is_empty() {
                true => io::Error::other(e),
                false => io::Error::other(format!("{e}\n  = note: it read {}", read.join(" and "))),
            }
        })
    }

    /// A message's content both ways, for the tests that hold the fast path to minijinja:
    /// (None when the part has no fast path, else its result; minijinja's result).
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn content_both_ways(
        &self,
        r: &CustomerResult,
        m: &Message,
        row: &Row<'_>,
        html: bool,
    ) -> (Option<Result<Option<Rendered>, crate::template::fast::Bail>>, io::Result<Option<Rendered>>) {
        let Some(ts) = self.templates else { return (None, Ok(None)) };
        let Some(t) = ts.get(row.template) else { return (None, Ok(None)) };
        let Some(part) = t.parts.get(row.channel) else { return (None, Ok(None)) };
        let tz = self.customer_tz(r);
        let fast = part.is_fast().then(|| self.content_fast(part, r, m, row, tz, html).map(Some));
        (fast, self.content_minijinja(ts, t, r, m, row, tz, &OnceCell::new(), html))
    }

    /// A customer's profile columns as CSV fields, each with the comma before it (see
    /// `CsvOut::rendered`), and how many: empty fields without a profile.
    fn profile_csv(&self, profile: Option<(&Table, usize)>) -> (Vec<u8>, usize) {
        let mut fields = csv_out::CsvOut::following();
        let n = match profile.filter(|_| !self.profile_headers.is_empty()) {
            Some((t, row)) => {
                for c in 0..t.names.len() {
                    match t.num_col(c) {
                        Some(_) => fields.field(t.written_at(c, row).as_bytes()),
                        None => row::write_text(&mut fields, t.str_at(c, row), self.escape),
                    }
                }
                t.names.len()
            }
            None => {
                for _ in &self.profile_headers {
                    fields.field("");
                }
                self.profile_headers.len()
            }
        };
        (fields.into_inner(), n)
    }

    /// The output row of message `m` with its content.
    pub fn full_row<'r>(&'r self, r: &'r CustomerResult, m: &'r Message) -> io::Result<Row<'r>> {
        self.full_row_with(r, m, &OnceCell::new(), true)
    }

    fn full_row_with<'r>(
        &'r self,
        r: &'r CustomerResult,
        m: &'r Message,
        customer_value: &OnceCell<Option<minijinja::Value>>,
        html: bool,
    ) -> io::Result<Row<'r>> {
        let mut row = self.row(r, m);
        row.content = self.content_with(r, m, &row, customer_value, html)?;
        Ok(row)
    }

    /// Count an SMS longer than the configured maximum.
    fn note_length(&self, row: &Row<'_>, emitted: &mut stream::Emitted) {
        let (Some(ts), Some(len)) = (self.templates, row.content.as_ref().and_then(|c| c.sms)) else { return };
        if len.segments > ts.sms_max_segments as usize {
            let e = emitted.long_sms.entry(row.template.to_owned()).or_default();
            e.0 += 1;
            e.1 = e.1.max(len.segments);
        }
    }

    fn hash(&self, r: &CustomerResult, m: &Message) -> u128 {
        let inst = &r.instances[m.instance];
        let d = &self.plan.dialogues[inst.dialogue];
        inst.message_hash(&self.data.people[r.person].id, &d.id, &d.steps[m.step].id, m.visit, m.attempt as u32)
    }

    fn fate(&self, l: &LedgerSel, r: &CustomerResult, m: &Message) -> Fate {
        self.fate_given(l, m, || l.held.contains(&self.hash(r, m)))
    }

    /// `fate`, with whether the ledger holds the message asked only when it matters.
    fn fate_given(&self, l: &LedgerSel, m: &Message, held: impl FnOnce() -> bool) -> Fate {
        if m.send_at > self.sel.as_of {
            return Fate::Skip;
        }
        if m.suppressed.is_some() {
            return if m.send_at >= l.oldest { Fate::Suppressed } else { Fate::Skip };
        }
        if held() {
            return Fate::Skip;
        }
        if l.before_ledger.is_some_and(|b| m.send_at < b) {
            Fate::Skip
        } else if m.send_at < l.oldest {
            Fate::Expired
        } else if m.send_at < l.day_start {
            Fate::Late
        } else {
            Fate::Due
        }
    }

    /// The selected messages of a customer, in output order.
    pub fn selected<'r>(&self, r: &'r CustomerResult) -> Vec<&'r Message> {
        if let Some(ids) = &self.sel.reemit {
            // What was emitted then, whatever the replay would now say of it.
            let mut msgs: Vec<&Message> = r.messages.iter().filter(|m| ids.contains_key(&self.hash(r, m))).collect();
            self.sort(r, &mut msgs);
            return msgs;
        }
        let mut msgs: Vec<&Message> = r
            .messages
            .iter()
            .filter(|m| match &self.sel.ledger {
                None => true,
                Some(l) => match self.fate(l, r, m) {
                    Fate::Skip => false,
                    Fate::Due | Fate::Late => true,
                    Fate::Expired | Fate::Suppressed => self.sel.include_suppressed,
                },
            })
            .filter(|m| self.sel.include_suppressed || m.suppressed.is_none())
            .filter(|m| match self.sel.since {
                Some(since) => m.send_at > since && m.send_at <= self.sel.as_of,
                None => true,
            })
            .collect();
        self.sort(r, &mut msgs);
        msgs
    }

    /// A customer's messages in output order.
    fn sort(&self, r: &CustomerResult, msgs: &mut [&Message]) {
        msgs.sort_by(|a, b| {
            let (ia, ib) = (&r.instances[a.instance], &r.instances[b.instance]);
            (a.send_at, ia.dialogue, ia.number, a.seq).cmp(&(b.send_at, ib.dialogue, ib.number, b.seq))
        });
    }

    fn status(&self, r: &CustomerResult, m: &Message) -> &'static str {
        if let Some(ids) = &self.sel.reemit {
            return match ids.get(&self.hash(r, m)).map(String::as_str) {
                Some("late") => "late",
                _ => "due",
            };
        }
        if m.suppressed.is_some() {
            return "suppressed";
        }
        if let Some(l) = &self.sel.ledger {
            return match self.fate(l, r, m) {
                Fate::Late => "late",
                Fate::Expired => "expired",
                Fate::Skip => "sent",
                _ => "due",
            };
        }
        self.plain_status(m.send_at).as_str()
    }

    /// `engine::status(send_at, sel.as_of, tz)`, with as-of's local day worked out once.
    fn plain_status(&self, send_at: i64) -> crate::engine::Status {
        let (as_of, day) = self.as_of_day;
        if as_of != self.sel.as_of {
            return status(send_at, self.sel.as_of, self.tz);
        }
        status_on(send_at, as_of, day, self.tz)
    }

    /// The customer's address for `channel` at `at`: as `profile_update` events left the
    /// profile by then (a new email from its instant on), else the customers file's.
    fn contact<'r>(&'r self, r: &'r CustomerResult, channel: &str, at: i64) -> &'r str {
        let col = self.contact_cols.iter().find(|(c, _)| c == channel).and_then(|(_, col)| *col);
        if let Some(v) = col.and_then(|c| r.profile_at(c, at)) {
            return v;
        }
        match (&self.data.customers, self.data.people[r.person].profile, col) {
            (Some(t), Some(row), Some(c)) => t.str_at(c, row),
            _ => "",
        }
    }

    /// The output row of message `m`.
    pub fn row<'r>(&'r self, r: &'r CustomerResult, m: &'r Message) -> Row<'r> {
        let person = &self.data.people[r.person];
        let inst = &r.instances[m.instance];
        let d = &self.plan.dialogues[inst.dialogue];
        let step = &d.steps[m.step];
        let v = &step.ladder[m.attempt].variants[m.variant];
        let channel = &v.channels[m.channel];
        Row {
            message_id: hex32(inst.message_hash(&person.id, &d.id, &step.id, m.visit, m.attempt as u32)),
            customer_id: &person.id,
            dialogue: &d.id,
            instance: inst.number,
            step: &step.id,
            attempt: m.attempt,
            channel,
            template: &v.template,
            send_at: m.send_at,
            status: self.status(r, m),
            trigger: &inst.trigger,
            triggered_at: inst.triggered_at,
            reason: &inst.reason,
            contact: self.contact(r, channel, m.send_at),
            item_id: self.data.catalog.as_ref().map(|t| match inst.event {
                Some(EventRef::Item(x)) => t.customer_id(x),
                _ => "",
            }),
            policy_note: match &self.sel.ledger {
                Some(l) if m.suppressed.is_none() && m.send_at < l.oldest && m.send_at <= self.sel.as_of => format!(
                    "expired: due {}, more than {} before this run (--max-late)",
                    format_utc(m.send_at),
                    crate::model::format_duration(l.max_late)
                ),
                _ => m.policy_note(),
            },
            content: None,
            fixed_csv: None,
        }
    }

    /// One dialogue instance as JSON (run `--format json` and `explain --json` share it).
    pub fn instance_json(&self, inst: &Instance) -> Map<String, Value> {
        let d = &self.plan.dialogues[inst.dialogue];
        let steps: Vec<Value> = inst
            .path
            .iter()
            .map(|(s, at)| serde_json::json!({"step": d.steps[*s].id, "entered_at": format_utc(*at)}))
            .collect();
        let mut o = Map::new();
        o.insert("dialogue".into(), d.id.clone().into());
        o.insert("instance".into(), inst.number.into());
        o.insert("trigger".into(), inst.trigger.clone().into());
        o.insert("triggered_at".into(), format_utc(inst.triggered_at).into());
        o.insert("reason".into(), inst.reason.clone().into());
        if let Some(t) = &self.data.catalog {
            let item = match inst.event {
                Some(EventRef::Item(x)) => Value::from(t.customer_id(x)),
                _ => Value::Null,
            };
            o.insert(row::ITEM_COLUMN.into(), item);
        }
        o.insert("outcome".into(), inst.outcome.clone().map_or(Value::Null, Value::String));
        o.insert("ended_at".into(), inst.ended_at.map_or(Value::Null, |t| format_utc(t).into()));
        o.insert("projected".into(), inst.projected.into());
        o.insert("steps".into(), Value::Array(steps));
        o
    }

    /// `,\n  ` and one customer's `--format json` object: `{"customer_id":…,"profile":{…},
    /// "instances":[…]}`, each instance as `instance_json` with its `messages`.
    fn write_json_customer(
        &self,
        r: &CustomerResult,
        msgs: &[&Message],
        cv: &OnceCell<Option<minijinja::Value>>,
        emitted: &mut stream::Emitted,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        out.extend_from_slice(b",\n  ");
        let mut c = json_out::Obj::new(out);
        c.str("customer_id", &self.data.people[r.person].id);
        let profile: Map<String, Value> = if self.profile_headers.is_empty() {
            Map::new()
        } else {
            self.profile(r).into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect()
        };
        serde_json::to_writer(&mut *c.key("profile"), &Value::Object(profile))?;
        let out = c.key("instances");
        out.push(b'[');
        let mut first = true;
        for (k, inst) in r.instances.iter().enumerate() {
            let mut inst_msgs = msgs.iter().filter(|m| m.instance == k).peekable();
            if inst_msgs.peek().is_none() && self.sel.since.is_some() {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let mut o = self.write_instance_json(inst, out);
            let out = o.key("messages");
            out.push(b'[');
            for (i, m) in inst_msgs.enumerate() {
                let row = self.full_row_with(r, m, cv, true)?;
                self.note_length(&row, emitted);
                if i > 0 {
                    out.push(b',');
                }
                row.write_json(out, &[]);
            }
            out.push(b']');
            o.end();
        }
        out.push(b']');
        out.push(b'}');
        Ok(())
    }

    /// `instance_json(inst)` written into `out`, left open for more members.
    fn write_instance_json<'o>(&self, inst: &Instance, out: &'o mut Vec<u8>) -> json_out::Obj<'o> {
        let utc = |t: i64| format_utc(t);
        let d = &self.plan.dialogues[inst.dialogue];
        let mut o = json_out::Obj::new(out);
        o.str("dialogue", &d.id);
        o.uint("instance", u64::from(inst.number));
        o.str("trigger", &inst.trigger);
        o.str("triggered_at", &utc(inst.triggered_at));
        o.str("reason", &inst.reason);
        if let Some(t) = &self.data.catalog {
            let item = match inst.event {
                Some(EventRef::Item(x)) => Some(t.customer_id(x)),
                _ => None,
            };
            json_out::opt_str(o.key(row::ITEM_COLUMN), item);
        }
        json_out::opt_str(o.key("outcome"), inst.outcome.as_deref());
        json_out::opt_str(o.key("ended_at"), inst.ended_at.map(utc).as_deref());
        o.key("projected").extend_from_slice(if inst.projected { b"true" } else { b"false" });
        let out = o.key("steps");
        out.push(b'[');
        for (i, (s, at)) in inst.path.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut st = json_out::Obj::new(out);
            st.str("step", &d.steps[*s].id);
            st.str("entered_at", &utc(*at));
            st.end();
        }
        out.push(b']');
        o
    }

    /// The profile fields of a customer under their output names (empty without profile output).
    fn profile_fields(&self, r: &CustomerResult) -> Vec<(&str, String)> {
        if self.profile_headers.is_empty() {
            return Vec::new();
        }
        let values = self.profile(r);
        self.profile_headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), values.get(i).map(|(_, v)| v.clone()).unwrap_or_default()))
            .collect()
    }

    /// The customer's profile as (column, text) pairs.
    pub fn profile(&self, r: &CustomerResult) -> Vec<(&'a str, String)> {
        match (&self.data.customers, self.data.people[r.person].profile) {
            (Some(t), Some(row)) => {
                t.names.iter().enumerate().map(|(i, n)| (n.as_str(), t.written_at(i, row).into_owned())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// What comes before the first customer.
    pub fn header(&self, format: Format) -> io::Result<Vec<u8>> {
        match format {
            Format::Csv => {
                let mut w = csv_out::CsvOut::new(Vec::new());
                let mut header: Vec<&str> = COLUMNS.to_vec();
                if self.data.catalog.is_some() {
                    header.push(row::ITEM_COLUMN);
                }
                if self.has_content() {
                    header.extend(row::CONTENT_COLUMNS);
                }
                // A profile column's name comes from the customers file: guarded as its cells are.
                let guarded: Vec<String> = self
                    .profile_headers
                    .iter()
                    .map(|h| if self.escape && row::looks_like_formula(h) { format!("'{h}") } else { h.clone() })
                    .collect();
                header.extend(guarded.iter().map(String::as_str));
                w.record(&header);
                Ok(w.into_inner())
            }
            Format::Json => Ok(b"[".to_vec()),
            Format::Jsonl | Format::Eml | Format::Mbox => Ok(Vec::new()),
        }
    }

    /// What comes after the last customer; `any` says whether any customer was written.
    /// What ends the output: the JSON array's bracket (`any`: some customer was written).
    pub fn footer(format: Format, any: bool) -> &'static [u8] {
        match (format, any) {
            (Format::Json, true) => b"\n]\n",
            (Format::Json, false) => b"]\n",
            _ => b"",
        }
    }

    pub fn chunk(&self, format: Format) -> Chunk {
        self.chunk_into(format, Vec::new())
    }

    /// A chunk that renders into `buf` (cleared), reusing its memory.
    pub fn chunk_into(&self, format: Format, mut buf: Vec<u8>) -> Chunk {
        buf.clear();
        match format {
            Format::Csv => Chunk::Csv(csv_out::CsvOut::new(buf)),
            _ => Chunk::Bytes(buf),
        }
    }

    /// Render one customer's selected messages into `out`, and add what was emitted to
    /// `emitted` (one per worker task, so its counts and maps are not made and merged again
    /// for every customer). JSON customers are written as `,\n  {...}`; the caller drops the
    /// very first comma. With a ledger, the lines to record for the messages emitted are
    /// appended to `emitted.ledger`.
    pub fn render(
        &self,
        r: &CustomerResult,
        format: Format,
        out: &mut Chunk,
        emitted: &mut stream::Emitted,
    ) -> io::Result<()> {
        let mut msgs = self.selected(r);
        let mut not_mail = 0;
        if format.is_mail() {
            let before = msgs.len();
            msgs.retain(|m| self.is_mail(r, m));
            not_mail = (before - msgs.len()) as u64;
        }
        emitted.messages += msgs.len() as u64;
        emitted.not_mail += not_mail;
        if let Some(l) = &self.sel.ledger {
            // One hash a message for both counts. Expired ones are counted whether or not
            // they are written (`--include-suppressed`): the summary says what a skipped
            // night lost either way.
            for m in r.messages.iter().filter(|m| m.suppressed.is_none()) {
                let held = l.held.contains(&self.hash(r, m));
                emitted.held_seen += u64::from(held);
                emitted.expired += u64::from(self.fate_given(l, m, || held) == Fate::Expired);
            }
        }
        if msgs.is_empty() {
            return Ok(());
        }
        for m in &msgs {
            *emitted.by_status.entry((r.instances[m.instance].dialogue, self.status(r, m))).or_default() += 1;
        }
        if let Some(l) = &self.sel.ledger {
            for m in &msgs {
                match self.fate(l, r, m) {
                    fate @ (Fate::Due | Fate::Late) => {
                        if fate == Fate::Late {
                            emitted.late += 1;
                        }
                        let row = self.row(r, m);
                        let mut entry = serde_json::json!({
                            "message_id": row.message_id(),
                            "customer_id": row.customer_id,
                            "dialogue": row.dialogue,
                            "instance": row.instance,
                            "step": row.step,
                            "attempt": row.attempt,
                            "channel": row.channel,
                            "send_at": format_utc(row.send_at),
                            "status": row.status,
                            "night": l.night,
                        });
                        if let Some(s) = &l.shard {
                            entry["shard"] = s.as_str().into();
                        }
                        serde_json::to_writer(&mut emitted.ledger, &entry)?;
                        emitted.ledger.push(b'\n');
                    }
                    Fate::Expired | Fate::Skip | Fate::Suppressed => {}
                }
            }
        }
        let cv = &OnceCell::new();
        match (format, out) {
            (Format::Csv, Chunk::Csv(w)) => {
                let person = &self.data.people[r.person];
                let profile = match (&self.data.customers, person.profile) {
                    (Some(t), Some(row)) => Some((t, row)),
                    _ => None,
                };
                // The profile columns end every row of the customer: rendered once.
                let (fields, n) = if msgs.is_empty() { (Vec::new(), 0) } else { self.profile_csv(profile) };
                for m in &msgs {
                    let mut row = self.full_row_with(r, m, cv, false)?;
                    row.fixed_csv = Some(self.fixed_csv.of(r.instances[m.instance].dialogue, m));
                    self.note_length(&row, emitted);
                    row.write_csv(w, self.escape);
                    if let Some(item) = row.item_id {
                        row::write_text(w, item, self.escape);
                    }
                    if self.has_content() {
                        row.write_content_csv(w, self.escape);
                    }
                    w.rendered(&fields, n);
                    w.end_record();
                }
            }
            (Format::Jsonl, Chunk::Bytes(out)) => {
                let profile = self.profile_fields(r);
                for m in &msgs {
                    let row = self.full_row_with(r, m, cv, true)?;
                    self.note_length(&row, emitted);
                    row.write_json(out, &profile);
                    out.push(b'\n');
                }
            }
            (Format::Json, Chunk::Bytes(out)) => {
                // Written as it goes: the bytes `serde_json` writes for the customer's object
                // (see `instance_json`), without a `Value` per message. On an error the
                // customer's partial object is taken back.
                let start = out.len();
                let written = self.write_json_customer(r, &msgs, cv, emitted, out);
                if written.is_err() {
                    out.truncate(start);
                }
                written?;
            }
            (Format::Eml | Format::Mbox, Chunk::Bytes(out)) => {
                let Some(from) = &self.sender else {
                    return Err(io::Error::other("email output needs a sender (content.from or --mail-from)"));
                };
                for m in &msgs {
                    let row = self.full_row_with(r, m, cv, true)?;
                    let Some(content) = &row.content else { continue };
                    let bytes = mail::eml(row.contact.trim(), from, row.message_id(), row.send_at, content)?;
                    if format == Format::Eml {
                        mail::frame(&format!("{}.eml", row.message_id()), &bytes, out);
                    } else {
                        out.extend_from_slice(&mail::mbox_entry(&bytes, from, row.send_at));
                    }
                }
            }
            _ => unreachable!("chunk made for another format"),
        }
        Ok(())
    }
}

/// `engine::status(send_at, as_of, tz)` given `as_of_day = local_day(as_of, tz)`, without
/// working out the local day of a message sent days before as-of (most of a replay's): no
/// zone is 16 hours or more off UTC, so an instant three days before as-of is on an earlier
/// local day.
fn status_on(send_at: i64, as_of: i64, as_of_day: i64, tz: chrono_tz::Tz) -> crate::engine::Status {
    use crate::engine::Status;
    if send_at > as_of {
        Status::Scheduled
    } else if send_at < as_of.saturating_sub(3 * crate::model::DAY) {
        Status::Planned
    } else if crate::input::time::local_day(send_at, tz) == as_of_day {
        Status::Due
    } else {
        Status::Planned
    }
}

/// One message's variables for the template fast path, read straight from the data; history
/// and facts are worked out on first use.
struct MsgSource<'s> {
    w: &'s Writer<'s>,
    r: &'s CustomerResult,
    m: &'s Message,
    row: &'s Row<'s>,
    tz: chrono_tz::Tz,
    history: OnceCell<content::History<'s>>,
    facts: OnceCell<Vec<(usize, &'s str)>>,
}

impl MsgSource<'_> {
    fn time(&self, t: i64) -> Val<'static> {
        Val::time(t, self.tz)
    }

    /// `customer.name` as `profile_update` events left it by the send time.
    fn customer(&self, name: &str) -> Val<'_> {
        let data = self.w.data;
        let Some(tab) = &data.customers else { return Val::Undef };
        let Some(col) = tab.col(name) else { return Val::Undef };
        if let Some(v) = self.r.profile_at(col, self.m.send_at) {
            return match tab.num_col(col) {
                Some(_) => v.trim().parse::<f64>().map_or(Val::Undef, Val::number),
                None => Val::Str(Cow::Borrowed(v)),
            };
        }
        match data.people[self.r.person].profile {
            Some(row) => content::cell(tab, col, row),
            None => Val::Undef,
        }
    }
}

impl Source for MsgSource<'_> {
    fn msg(&self, i: usize) -> Val<'_> {
        let row = self.row;
        let text = |s| Val::Str(Cow::Borrowed(s));
        match MESSAGE_VARS.get(i).copied() {
            Some("customer_id") => text(row.customer_id),
            Some("dialogue") => text(row.dialogue),
            Some("instance") => Val::U64(u64::from(row.instance)),
            Some("step") => text(row.step),
            Some("attempt") => Val::U64(row.attempt as u64),
            Some("channel") => text(row.channel),
            Some("contact") => text(row.contact),
            Some("template") => text(row.template),
            Some("message_id") => text(row.message_id()),
            Some("send_at") => self.time(row.send_at),
            _ => Val::Undef,
        }
    }

    fn field(&self, rec: Rec, name: &str) -> Val<'_> {
        let data = self.w.data;
        match rec {
            Rec::Customer => self.customer(name),
            Rec::Event => {
                let (tab, x) = match self.m.event {
                    Some(EventRef::Purchase(x)) => (&data.tx, x),
                    Some(EventRef::Other(x)) => match &data.events {
                        Some(tab) => (tab, x),
                        None => return Val::Undef,
                    },
                    Some(EventRef::Item(_)) | None => return Val::Undef,
                };
                tab.col(name).map_or(Val::Undef, |c| content::cell(tab, c, x))
            }
            Rec::Item => match (self.r.instances[self.m.instance].event, &data.catalog) {
                (Some(EventRef::Item(x)), Some(tab)) => tab.col(name).map_or(Val::Undef, |c| content::cell(tab, c, x)),
                _ => Val::Undef,
            },
            Rec::Trigger => {
                let inst = &self.r.instances[self.m.instance];
                match name {
                    "kind" => Val::Str(Cow::Borrowed(&inst.trigger)),
                    "reason" => Val::Str(Cow::Borrowed(&inst.reason)),
                    "at" => self.time(inst.triggered_at),
                    _ => Val::Undef,
                }
            }
            Rec::History => self
                .history
                .get_or_init(|| {
                    content::history_of(&data.tx, data.people[self.r.person].tx.clone(), self.m.send_at, self.tz)
                })
                .get(name),
            Rec::Fact => {
                let facts = self.facts.get_or_init(|| self.r.facts_at(self.m.send_at));
                let plan = self.w.plan;
                facts
                    .iter()
                    .find(|(i, _)| plan.facts[*i] == name)
                    .map_or(Val::Undef, |(_, v)| Val::Str(Cow::Borrowed(v)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::time::{local_day, MAX_TS, MIN_TS};
    use crate::model::DAY;

    #[test]
    fn the_status_shortcut_is_the_engines_status() {
        // Every zone, as-of instants over the input range (LMT offsets of the 1800s, DST
        // changes, the far future), and messages around each: hours, days and years before.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let offsets: Vec<i64> = (-5 * 24..=1).map(|h| h * 3600).chain([-400 * DAY, -4 * DAY + 1, 59, 3599]).collect();
        for tz in chrono_tz::TZ_VARIANTS {
            for k in 0..12 {
                let as_of = match k {
                    0 => MIN_TS + 5 * DAY,
                    1 => MAX_TS,
                    2 => -1,
                    3 => 1_711_846_800, // 2024-03-31T01:00:00Z, a European DST change
                    _ => MIN_TS + (next() % (MAX_TS - MIN_TS) as u64) as i64,
                };
                let day = local_day(as_of, tz);
                for d in &offsets {
                    let send_at = as_of + d + (next() % 3600) as i64 - 1800;
                    assert_eq!(
                        status_on(send_at, as_of, day, tz),
                        status(send_at, as_of, tz),
                        "{tz} {as_of} {send_at}"
                    );
                }
            }
        }
    }
}
