//! Output stage: message plans as CSV, JSON (per customer, per dialogue instance) or JSONL.
//! Every format writes the rows defined once in `row`; `stream` drives evaluation and writing
//! in parallel with deterministic order; `sink` makes files appear atomically.

pub mod row;
pub mod sink;
pub mod stream;

use std::io;

use serde_json::{Map, Value};

use crate::dialogue::Plan;
use crate::engine::{status, CustomerResult, Instance, Message};
use crate::ids::{hex32, message_hash};
use crate::input::time::format_utc;
use crate::input::Data;

pub use row::{Col, Row, COLUMNS};
pub use sink::Sink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
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
    pub max_late: i64,
    /// The night recorded with each emitted message (the as-of date).
    pub night: String,
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
}

/// A worker's output for a run of consecutive customers, in the chosen format.
pub enum Chunk {
    Csv(Box<csv::Writer<Vec<u8>>>),
    Bytes(Vec<u8>),
}

impl Chunk {
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self {
            Chunk::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
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
                // A profile column named like a fixed column (`status`, `contact`) gets a
                // `profile_` prefix, so every field name is unique.
                let mut h = name.clone();
                while COLUMNS.contains(&h.as_str()) || profile_headers.contains(&h) {
                    h = format!("profile_{h}");
                }
                profile_headers.push(h);
            }
        }
        Self { data, plan, sel, tz: layout.tz, escape: layout.escape_formulas, profile_headers, contact_cols }
    }

    fn hash(&self, r: &CustomerResult, m: &Message) -> u128 {
        let inst = &r.instances[m.instance];
        let d = &self.plan.dialogues[inst.dialogue];
        message_hash(&self.data.people[r.person].id, &d.id, inst.number, &d.steps[m.step].id, m.visit, m.attempt as u32)
    }

    fn fate(&self, l: &LedgerSel, r: &CustomerResult, m: &Message) -> Fate {
        if m.send_at > self.sel.as_of {
            return Fate::Skip;
        }
        if m.suppressed.is_some() {
            return if m.send_at >= l.oldest { Fate::Suppressed } else { Fate::Skip };
        }
        if l.held.contains(&self.hash(r, m)) {
            return Fate::Skip;
        }
        if m.send_at < l.oldest {
            Fate::Expired
        } else if m.send_at < l.day_start {
            Fate::Late
        } else {
            Fate::Due
        }
    }

    /// The selected messages of a customer, in output order.
    pub fn selected<'r>(&self, r: &'r CustomerResult) -> Vec<&'r Message> {
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
        msgs.sort_by(|a, b| {
            let (ia, ib) = (&r.instances[a.instance], &r.instances[b.instance]);
            (a.send_at, ia.dialogue, ia.number, a.seq).cmp(&(b.send_at, ib.dialogue, ib.number, b.seq))
        });
        msgs
    }

    fn status(&self, r: &CustomerResult, m: &Message) -> &'static str {
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
        status(m.send_at, self.sel.as_of, self.tz).as_str()
    }

    fn contact(&self, r: &CustomerResult, channel: &str) -> &'a str {
        let col = self.contact_cols.iter().find(|(c, _)| c == channel).and_then(|(_, col)| *col);
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
            message_id: hex32(message_hash(&person.id, &d.id, inst.number, &step.id, m.visit, m.attempt as u32)),
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
            contact: self.contact(r, channel),
            policy_note: match &self.sel.ledger {
                Some(l) if m.suppressed.is_none() && m.send_at < l.oldest && m.send_at <= self.sel.as_of => format!(
                    "expired: due {}, more than {} before this run (--max-late)",
                    format_utc(m.send_at),
                    crate::model::format_duration(l.max_late)
                ),
                _ => m.policy_note(),
            },
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
        o.insert("outcome".into(), inst.outcome.clone().map_or(Value::Null, Value::String));
        o.insert("ended_at".into(), inst.ended_at.map_or(Value::Null, |t| format_utc(t).into()));
        o.insert("projected".into(), inst.projected.into());
        o.insert("steps".into(), Value::Array(steps));
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
            (Some(t), Some(row)) => t.names.iter().enumerate().map(|(i, n)| (n.as_str(), t.text_at(i, row))).collect(),
            _ => Vec::new(),
        }
    }

    /// What comes before the first customer.
    pub fn header(&self, format: Format) -> io::Result<Vec<u8>> {
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut header: Vec<&str> = COLUMNS.to_vec();
                header.extend(self.profile_headers.iter().map(String::as_str));
                w.write_record(&header)?;
                w.into_inner().map_err(|e| e.into_error())
            }
            Format::Json => Ok(b"[".to_vec()),
            Format::Jsonl => Ok(Vec::new()),
        }
    }

    /// What comes after the last customer; `any` says whether any customer was written.
    pub fn footer(&self, format: Format, any: bool) -> &'static [u8] {
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
            Format::Csv => Chunk::Csv(Box::new(csv::WriterBuilder::new().has_headers(false).from_writer(buf))),
            _ => Chunk::Bytes(buf),
        }
    }

    /// Render one customer's selected messages into `out`. JSON customers are written as
    /// `,\n  {...}`; the caller drops the very first comma. With a ledger, the lines to record
    /// for the messages emitted come back with the counts.
    pub fn render(&self, r: &CustomerResult, format: Format, out: &mut Chunk) -> io::Result<stream::Emitted> {
        let msgs = self.selected(r);
        let mut emitted = stream::Emitted { messages: msgs.len() as u64, ..Default::default() };
        if let Some(l) = &self.sel.ledger {
            emitted.held_seen =
                r.messages.iter().filter(|m| m.suppressed.is_none() && l.held.contains(&self.hash(r, m))).count()
                    as u64;
        }
        if msgs.is_empty() {
            return Ok(emitted);
        }
        if let Some(l) = &self.sel.ledger {
            for m in &msgs {
                match self.fate(l, r, m) {
                    fate @ (Fate::Due | Fate::Late) => {
                        if fate == Fate::Late {
                            emitted.late += 1;
                        }
                        let row = self.row(r, m);
                        let entry = serde_json::json!({
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
                        serde_json::to_writer(&mut emitted.ledger, &entry)?;
                        emitted.ledger.push(b'\n');
                    }
                    Fate::Expired => emitted.expired += 1,
                    Fate::Skip | Fate::Suppressed => {}
                }
            }
        }
        match (format, out) {
            (Format::Csv, Chunk::Csv(w)) => {
                let person = &self.data.people[r.person];
                let profile = match (&self.data.customers, person.profile) {
                    (Some(t), Some(row)) => Some((t, row)),
                    _ => None,
                };
                for m in &msgs {
                    self.row(r, m).write_csv(w, self.escape)?;
                    match profile.filter(|_| !self.profile_headers.is_empty()) {
                        Some((t, row)) => {
                            for c in 0..t.names.len() {
                                match t.num_col(c) {
                                    Some(_) => w.write_field(t.text_at(c, row))?,
                                    None => row::write_text(w, t.str_at(c, row), self.escape)?,
                                }
                            }
                        }
                        None => {
                            for _ in &self.profile_headers {
                                w.write_field("")?;
                            }
                        }
                    }
                    w.write_record(None::<&[u8]>)?;
                }
            }
            (Format::Jsonl, Chunk::Bytes(out)) => {
                let profile = self.profile_fields(r);
                for m in &msgs {
                    serde_json::to_writer(&mut *out, &row::WithProfile(&self.row(r, m), &profile))?;
                    out.push(b'\n');
                }
            }
            (Format::Json, Chunk::Bytes(out)) => {
                let mut instances = Vec::new();
                for (k, inst) in r.instances.iter().enumerate() {
                    let inst_msgs: Vec<Value> = msgs
                        .iter()
                        .filter(|m| m.instance == k)
                        .map(|m| serde_json::to_value(self.row(r, m)).unwrap_or(Value::Null))
                        .collect();
                    if inst_msgs.is_empty() && self.sel.since.is_some() {
                        continue;
                    }
                    let mut o = self.instance_json(inst);
                    o.insert("messages".into(), Value::Array(inst_msgs));
                    instances.push(Value::Object(o));
                }
                let profile: Map<String, Value> = if self.profile_headers.is_empty() {
                    Map::new()
                } else {
                    self.profile(r).into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect()
                };
                let mut c = Map::new();
                c.insert("customer_id".into(), self.data.people[r.person].id.to_string().into());
                c.insert("profile".into(), Value::Object(profile));
                c.insert("instances".into(), Value::Array(instances));
                out.extend_from_slice(b",\n  ");
                serde_json::to_writer(&mut *out, &Value::Object(c))?;
            }
            _ => unreachable!("chunk made for another format"),
        }
        Ok(emitted)
    }
}
