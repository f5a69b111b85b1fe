//! Output stage: message plans as CSV, JSON (per customer, per dialogue instance) or JSONL,
//! to stdout or to a file that appears atomically, complete or not at all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::dialogue::Plan;
use crate::evaluator::{status, CustomerResult, Message, Status};
use crate::ids::message_id;
use crate::input::time::format_utc;
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
];

/// One message with everything a mail tool needs, in output column order.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub message_id: String,
    pub customer_id: String,
    pub dialogue: String,
    pub instance: u32,
    pub step: String,
    pub attempt: usize,
    pub channel: String,
    pub template: String,
    pub send_at: String,
    pub status: String,
    pub trigger: String,
    pub triggered_at: String,
    pub reason: String,
    pub contact: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

pub struct Writer<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub cfg: &'a Config,
    pub sel: Selection,
}

impl Writer<'_> {
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

    fn status(&self, m: &Message) -> Status {
        status(m.send_at, self.sel.as_of, self.cfg.tz)
    }

    pub fn row(&self, r: &CustomerResult, m: &Message) -> Row {
        let person = &self.data.people[r.person];
        let inst = &r.instances[m.instance];
        let d = &self.plan.dialogues[inst.dialogue];
        let step = &d.steps[m.step];
        let msg = &step.ladder[m.attempt];
        let contact = match (&self.data.customers, person.profile, self.cfg.contact_field(&msg.channel)) {
            (Some(t), Some(row), Some(field)) => t.col(field).map(|c| t.text_at(c, row)).unwrap_or_default(),
            _ => String::new(),
        };
        Row {
            message_id: message_id(&person.id, &d.id, inst.number, &step.id, m.attempt as u32),
            customer_id: person.id.to_string(),
            dialogue: d.id.clone(),
            instance: inst.number,
            step: step.id.clone(),
            attempt: m.attempt,
            channel: msg.channel.clone(),
            template: msg.template.clone(),
            send_at: format_utc(m.send_at),
            status: if m.suppressed.is_some() { "suppressed".to_owned() } else { self.status(m).as_str().to_owned() },
            trigger: inst.trigger.clone(),
            triggered_at: format_utc(inst.triggered_at),
            reason: inst.reason.clone(),
            contact,
            suppressed: m.suppressed.clone(),
        }
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

    /// Write every selected message in `format`.
    pub fn write(&self, results: &[CustomerResult], format: Format, out: &mut dyn Write) -> io::Result<u64> {
        let mut n = 0u64;
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let profile_cols: Vec<String> =
                    self.data.customers.as_ref().map(|t| t.names.clone()).unwrap_or_default();
                let mut header: Vec<&str> = COLUMNS.to_vec();
                if self.sel.include_suppressed {
                    header.push("suppressed_reason");
                }
                header.extend(profile_cols.iter().map(String::as_str));
                w.write_record(&header)?;
                for r in results {
                    let msgs = self.selected(r);
                    if msgs.is_empty() {
                        continue;
                    }
                    let profile = self.profile(r);
                    for m in msgs {
                        let row = self.row(r, m);
                        let mut rec: Vec<String> = vec![
                            row.message_id,
                            row.customer_id,
                            row.dialogue,
                            row.instance.to_string(),
                            row.step,
                            row.attempt.to_string(),
                            row.channel,
                            row.template,
                            row.send_at,
                            row.status,
                            row.trigger,
                            row.triggered_at,
                            row.reason,
                            row.contact,
                        ];
                        if self.sel.include_suppressed {
                            rec.push(row.suppressed.unwrap_or_default());
                        }
                        for c in &profile_cols {
                            rec.push(profile.get(c).and_then(Value::as_str).unwrap_or_default().to_owned());
                        }
                        w.write_record(&rec)?;
                        n += 1;
                    }
                }
                w.flush()?;
            }
            Format::Jsonl => {
                for r in results {
                    for m in self.selected(r) {
                        serde_json::to_writer(&mut *out, &self.row(r, m))?;
                        out.write_all(b"\n")?;
                        n += 1;
                    }
                }
                out.flush()?;
            }
            Format::Json => {
                out.write_all(b"[")?;
                let mut first = true;
                for r in results {
                    let msgs = self.selected(r);
                    if msgs.is_empty() {
                        continue;
                    }
                    let mut instances = Vec::new();
                    for (k, inst) in r.instances.iter().enumerate() {
                        let inst_msgs: Vec<Value> = msgs
                            .iter()
                            .filter(|m| m.instance == k)
                            .map(|m| serde_json::to_value(self.row(r, m)).unwrap_or(Value::Null))
                            .collect();
                        let d = &self.plan.dialogues[inst.dialogue];
                        let steps: Vec<Value> = inst
                            .path
                            .iter()
                            .map(|(s, at)| serde_json::json!({"step": d.steps[*s].id, "entered_at": format_utc(*at)}))
                            .collect();
                        n += inst_msgs.len() as u64;
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
                    out.write_all(if first { b"\n  " } else { b",\n  " })?;
                    first = false;
                    serde_json::to_writer(&mut *out, &Value::Object(c))?;
                }
                out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
                out.flush()?;
            }
        }
        Ok(n)
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
    pub fn write_with(self, f: impl FnOnce(&mut dyn Write) -> io::Result<u64>) -> io::Result<u64> {
        match self {
            Sink::Stdout => {
                let stdout = io::stdout();
                let mut lock = io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let n = f(&mut lock)?;
                lock.flush()?;
                Ok(n)
            }
            Sink::File { path, tmp } => {
                let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
                let n = f(&mut w)?;
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                tmp.as_file().sync_all()?;
                tmp.persist(&path).map_err(|e| e.error)?;
                Ok(n)
            }
        }
    }
}
