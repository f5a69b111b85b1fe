//! End-to-end tests: the `kairos` binary on small fixtures in a temp dir, checked against
//! exact expected plans, golden files (insta snapshots) and exact error messages.

mod catalog;
mod content;
mod conversations;
mod errors;
mod inputs;
mod ledger;
mod nightly;
mod outputs;
mod policy;
mod presorted;
mod report;
mod scale;
mod stories;
mod triggers;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary project: dialogue files and CSVs, run with the binary.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub const TX_HEADER: &str = "customer_id,timestamp,order_id,product,category,quantity,amount,channel\n";
pub const EV_HEADER: &str = "customer_id,timestamp,type,dialogue,step,answer,message_id,detail\n";

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dialogues")).unwrap();
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn file(&self, rel: &str, body: &str) -> &Self {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, body).unwrap();
        self
    }

    pub fn dialogue(&self, id: &str, body: &str) -> &Self {
        self.file(&format!("dialogues/{id}.yaml"), body)
    }

    /// Transactions from compact lines: `customer,date,order,product,category,amount[,channel]`.
    pub fn tx(&self, lines: &[&str]) -> &Self {
        let mut body = TX_HEADER.to_owned();
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            let channel = f.get(6).copied().unwrap_or("web");
            body.push_str(&format!("{},{},{},{},{},1,{},{}\n", f[0], f[1], f[2], f[3], f[4], f[5], channel));
        }
        self.file("tx.csv", &body)
    }

    /// Events from compact lines: `customer,timestamp,type[,dialogue,step,answer]`.
    pub fn events(&self, lines: &[&str]) -> &Self {
        let mut body = EV_HEADER.to_owned();
        for l in lines {
            let mut f: Vec<&str> = l.split(',').collect();
            f.resize(7, "");
            body.push_str(&format!("{},{},{},{},{},{},{},\n", f[0], f[1], f[2], f[3], f[4], f[5], f[6]));
        }
        self.file("events.csv", &body)
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let out = Command::cargo_bin("kairos").unwrap().current_dir(self.dir.path()).args(args).output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// `kairos run` with the fixture's files and `extra` arguments.
    pub fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--dialogues", "dialogues"];
        if self.path("tx.csv").exists() {
            args.extend(["--transactions", "tx.csv"]);
        }
        if self.path("events.csv").exists() {
            args.extend(["--events", "events.csv"]);
        }
        if self.path("customers.csv").exists() {
            args.extend(["--customers", "customers.csv"]);
        }
        args.extend(extra);
        self.cmd(&args)
    }

    /// The plan as `customer dialogue#instance step/attempt channel:template date status` lines.
    pub fn plan(&self, extra: &[&str]) -> String {
        let out = self.run(extra);
        assert_eq!(out.code, 0, "kairos failed:\n{}", out.stderr);
        brief(&out.stdout)
    }
}

/// A compact view of a CSV plan, one message per line.
pub fn brief(csv_text: &str) -> String {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (c, d, i, s, a, ch, t, at, st) = (
        col("customer_id"),
        col("dialogue"),
        col("instance"),
        col("step"),
        col("attempt"),
        col("channel"),
        col("template"),
        col("send_at"),
        col("status"),
    );
    let mut out = String::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let date = &rec[at];
        let date = date.strip_suffix("T00:00:00Z").unwrap_or(date);
        out.push_str(&format!(
            "{} {}#{} {}/{} {}:{} {} {}\n",
            &rec[c], &rec[d], &rec[i], &rec[s], &rec[a], &rec[ch], &rec[t], date, &rec[st]
        ));
    }
    out
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}
