//! Output stage: message plans as CSV, JSON (per customer, per dialogue instance) or JSONL,
//! to stdout or to a file that appears atomically, complete or not at all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::dialogue::Plan;
use crate::evaluator::{status, CustomerResult, Message};
use crate::ids::{hex32, message_hash};
use crate::input::time::{format_utc, utc_bytes};
use crate::input::Data;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
}

pub const COLUMNS: &[&str] = &[
    "message_id",
    "customer_id",
    "dialogue",
    "instance",
    "step",
    "attempt",
    "channel",
    "template",
    "send_at",
    "status",
    "trigger",
    "triggered_at",
    "reason",
    "contact",
    "policy_note",
];

/// One message with everything a mail tool needs, in output column order.
#[derive(Debug, Clone, Serialize)]
pub struct Row<'a> {
    pub message_id: String,
    pub customer_id: &'a str,
    pub dialogue: &'a str,
    pub instance: u32,
    pub step: &'a str,
    pub attempt: usize,
    pub channel: &'a str,
    pub template: &'a str,
    pub send_at: String,
    pub status: &'static str,
    pub trigger: &'a str,
    pub triggered_at: String,
    pub reason: &'a str,
    pub contact: &'a str,
    /// Why the message is suppressed, or what the contact policy changed (fallback, deferral).
    pub policy_note: &'a str,
}

pub struct Writer<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub cfg: &'a Config,
    pub sel: Selection,
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
    pub fn new(data: &'a Data, plan: &'a Plan, cfg: &'a Config, sel: Selection) -> Self {
        let mut contact_cols: Vec<(String, Option<usize>)> = Vec::new();
        for d in &plan.dialogues {
            for s in &d.steps {
                for ch in s.ladder.iter().flat_map(|m| m.variants.iter().flat_map(|v| v.channels.iter())) {
                    if !contact_cols.iter().any(|(c, _)| c == ch) {
                        let col = match (&data.customers, cfg.contact_field(ch)) {
                            (Some(t), Some(f)) => t.col(f),
                            _ => None,
                        };
                        contact_cols.push((ch.clone(), col));
                    }
                }
            }
        }
        Self { data, plan, cfg, sel, contact_cols }
    }

    fn selected<'r>(&self, r: &'r CustomerResult) -> Vec<&'r Message> {
        let mut msgs: Vec<&Message> = r
            .messages
            .iter()
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

    fn status(&self, m: &Message) -> &'static str {
        if m.suppressed.is_some() {
            return "suppressed";
        }
        status(m.send_at, self.sel.as_of, self.cfg.tz).as_str()
    }

    fn contact(&self, r: &CustomerResult, channel: &str) -> &'a str {
        let col = self.contact_cols.iter().find(|(c, _)| c == channel).and_then(|(_, col)| *col);
        match (&self.data.customers, self.data.people[r.person].profile, col) {
            (Some(t), Some(row), Some(c)) => t.str_at(c, row),
            _ => "",
        }
    }

    pub fn row<'r>(&'r self, r: &'r CustomerResult, m: &'r Message) -> Row<'r> {
        let person = &self.data.people[r.person];
        let inst = &r.instances[m.instance];
        let d = &self.plan.dialogues[inst.dialogue];
        let step = &d.steps[m.step];
        let v = &step.ladder[m.attempt].variants[m.variant];
        let channel = &v.channels[m.channel];
        let hash = message_hash(&person.id, &d.id, inst.number, &step.id, m.attempt as u32);
        Row {
            message_id: String::from_utf8_lossy(&hex32(hash)).into_owned(),
            customer_id: &person.id,
            dialogue: &d.id,
            instance: inst.number,
            step: &step.id,
            attempt: m.attempt,
            channel,
            template: &v.template,
            send_at: format_utc(m.send_at),
            status: self.status(m),
            trigger: &inst.trigger,
            triggered_at: format_utc(inst.triggered_at),
            reason: &inst.reason,
            contact: self.contact(r, channel),
            policy_note: m.suppressed.as_deref().or(m.note.as_deref()).unwrap_or_default(),
        }
    }

    fn profile_cols(&self) -> &[String] {
        self.data.customers.as_ref().map_or(&[], |t| &t.names)
    }

    fn profile(&self, r: &CustomerResult) -> Map<String, Value> {
        let mut map = Map::new();
        if let (Some(t), Some(row)) = (&self.data.customers, self.data.people[r.person].profile) {
            for (i, name) in t.names.iter().enumerate() {
                map.insert(name.clone(), Value::String(t.text_at(i, row)));
            }
        }
        map
    }

    /// What comes before the first customer.
    pub fn header(&self, format: Format) -> io::Result<Vec<u8>> {
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut header: Vec<&str> = COLUMNS.to_vec();
                header.extend(self.profile_cols().iter().map(String::as_str));
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
        match format {
            Format::Csv => Chunk::Csv(Box::new(csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new()))),
            _ => Chunk::Bytes(Vec::new()),
        }
    }

    /// Render one customer's selected messages into `out`. JSON customers are written as
    /// `,\n  {...}`; the caller drops the very first comma.
    pub fn render(&self, r: &CustomerResult, format: Format, out: &mut Chunk) -> io::Result<u64> {
        let msgs = self.selected(r);
        if msgs.is_empty() {
            return Ok(0);
        }
        match (format, out) {
            (Format::Csv, Chunk::Csv(w)) => {
                let person = &self.data.people[r.person];
                let profile = match (&self.data.customers, person.profile) {
                    (Some(t), Some(row)) => Some((t, row)),
                    _ => None,
                };
                let mut num = itoa::Buffer::new();
                for m in &msgs {
                    let inst = &r.instances[m.instance];
                    let d = &self.plan.dialogues[inst.dialogue];
                    let step = &d.steps[m.step];
                    let v = &step.ladder[m.attempt].variants[m.variant];
                    let channel = &v.channels[m.channel];
                    w.write_field(hex32(message_hash(&person.id, &d.id, inst.number, &step.id, m.attempt as u32)))?;
                    w.write_field(person.id.as_bytes())?;
                    w.write_field(&d.id)?;
                    w.write_field(num.format(inst.number))?;
                    w.write_field(&step.id)?;
                    w.write_field(num.format(m.attempt))?;
                    w.write_field(channel)?;
                    w.write_field(&v.template)?;
                    w.write_field(utc_bytes(m.send_at))?;
                    w.write_field(self.status(m))?;
                    w.write_field(&inst.trigger)?;
                    w.write_field(utc_bytes(inst.triggered_at))?;
                    w.write_field(&inst.reason)?;
                    w.write_field(self.contact(r, channel))?;
                    w.write_field(m.suppressed.as_deref().or(m.note.as_deref()).unwrap_or_default())?;
                    match profile {
                        Some((t, row)) => {
                            for c in 0..t.names.len() {
                                match t.num_col(c) {
                                    Some(_) => w.write_field(t.text_at(c, row))?,
                                    None => w.write_field(t.str_at(c, row))?,
                                }
                            }
                        }
                        None => {
                            for _ in self.profile_cols() {
                                w.write_field("")?;
                            }
                        }
                    }
                    w.write_record(None::<&[u8]>)?;
                }
            }
            (Format::Jsonl, Chunk::Bytes(out)) => {
                for m in &msgs {
                    serde_json::to_writer(&mut *out, &self.row(r, m))?;
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
                    o.insert("messages".into(), Value::Array(inst_msgs));
                    instances.push(Value::Object(o));
                }
                let mut c = Map::new();
                c.insert("customer_id".into(), self.data.people[r.person].id.to_string().into());
                c.insert("profile".into(), Value::Object(self.profile(r)));
                c.insert("instances".into(), Value::Array(instances));
                out.extend_from_slice(b",\n  ");
                serde_json::to_writer(&mut *out, &Value::Object(c))?;
            }
            _ => unreachable!("chunk made for another format"),
        }
        Ok(msgs.len() as u64)
    }
}

/// Where output goes: stdout, or a file replaced atomically.
pub enum Sink {
    Stdout,
    File { path: PathBuf, tmp: tempfile::NamedTempFile },
}

impl Sink {
    /// Prepare the destination before any work, so a bad path fails fast.
    pub fn open(path: Option<&Path>) -> io::Result<Sink> {
        match path {
            None => Ok(Sink::Stdout),
            Some(p) if p == Path::new("-") => Ok(Sink::Stdout),
            Some(p) => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tmp = tempfile::Builder::new().prefix(".kairos-").suffix(".tmp").tempfile_in(dir)?;
                Ok(Sink::File { path: p.to_path_buf(), tmp })
            }
        }
    }

    /// Write, then (for files) rename into place. On error the temp file is removed.
    pub fn write_with(self, f: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<u64>) -> io::Result<u64> {
        match self {
            Sink::Stdout => {
                let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout());
                let n = f(&mut out)?;
                out.flush()?;
                Ok(n)
            }
            Sink::File { path, tmp } => {
                let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
                let n = f(&mut w)?;
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                // A temp file is private (0600); the plan gets the permissions of the file it
                // replaces, or the usual 0644.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
                    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&path).map_err(|e| e.error)?;
                Ok(n)
            }
        }
    }
}
