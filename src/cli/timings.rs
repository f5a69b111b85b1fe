//! `run --timings`: how long each stage of a run took (wall clock), written to stderr at the
//! end so a slow nightly run shows whether reading, the replay or the disk is the cost.

use std::time::Duration;

use crate::input::{Data, ReadTimes};

/// One run's stages, as measured.
#[derive(Debug, Default)]
pub struct Timings {
    /// Inputs read and dialogues checked (with `--presorted`: inputs opened and dialogues
    /// checked; the rows are read batch by batch during the replay).
    pub prepare: Duration,
    /// The tables read while preparing, by name (none with `--presorted`).
    pub reads: Vec<(&'static str, ReadTimes)>,
    /// The replay and the writing of the plan (with `--presorted`, the reading too).
    pub replay: Duration,
    /// Recording the emitted messages in the ledger, when there is one.
    pub ledger: Option<Duration>,
    pub presorted: bool,
    pub total: Duration,
}

impl Timings {
    /// The tables of a whole run's data, with how long each took to read.
    pub fn reads_of(data: &Data) -> Vec<(&'static str, ReadTimes)> {
        let mut reads = Vec::new();
        if data.tx_given {
            reads.push(("transactions", data.tx.read));
        }
        if let Some(t) = &data.events {
            reads.push(("events", t.read));
        }
        if let Some(t) = &data.customers {
            reads.push(("customers", t.read));
        }
        if let Some(t) = &data.catalog {
            reads.push(("catalog", t.read));
        }
        reads
    }

    /// The lines written to stderr: one per stage, seconds with two decimals.
    pub fn render(&self) -> String {
        let mut rows: Vec<(String, Duration, String)> = Vec::new();
        if self.presorted {
            rows.push(("open inputs, check dialogues".into(), self.prepare, String::new()));
            rows.push(("read, replay and write".into(), self.replay, "(batch by batch)".into()));
        } else {
            let mut read = Duration::ZERO;
            for (name, r) in &self.reads {
                read += r.total;
                let parts = if r.parse + r.group + r.order > Duration::ZERO {
                    format!("(parse {}, group by customer {}, order {})", secs(r.parse), secs(r.group), secs(r.order))
                } else {
                    String::new()
                };
                rows.push((format!("read {name}"), r.total, parts));
            }
            rows.push(("check dialogues and inputs".into(), self.prepare.saturating_sub(read), String::new()));
            rows.push(("replay and write".into(), self.replay, String::new()));
        }
        if let Some(l) = self.ledger {
            rows.push(("record in the ledger".into(), l, String::new()));
        }
        rows.push(("total".into(), self.total, String::new()));
        let width = rows.iter().map(|(name, _, _)| name.len()).max().unwrap_or(0);
        let mut out = "kairos: timings (wall clock)\n".to_owned();
        for (name, d, parts) in rows {
            let line = format!("  {name:<width$}  {:>8}  {parts}", secs(d));
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_whole_run_shows_each_read_its_stages_and_the_rest_of_preparing() {
        let tx = ReadTimes { total: ms(2170), parse: ms(1110), group: ms(630), order: ms(240) };
        let t = Timings {
            prepare: ms(2600),
            reads: vec![("transactions", tx), ("customers", ReadTimes { total: ms(400), ..ReadTimes::default() })],
            replay: ms(1850),
            ledger: Some(ms(12)),
            presorted: false,
            total: ms(4470),
        };
        assert_eq!(
            t.render(),
            r"kairos: timings (wall clock)
  read transactions             2.17 s  (parse 1.11 s, group by customer 0.63 s, order 0.24 s)
  read customers                0.40 s
  check dialogues and inputs    0.03 s
  replay and write              1.85 s
  record in the ledger          0.01 s
  total                         4.47 s
"
        );
    }

    #[test]
    fn a_presorted_run_reads_while_it_replays() {
        let t =
            Timings { prepare: ms(50), replay: ms(12_350), presorted: true, total: ms(12_400), ..Timings::default() };
        assert_eq!(
            t.render(),
            r"kairos: timings (wall clock)
  open inputs, check dialogues    0.05 s
  read, replay and write         12.35 s  (batch by batch)
  total                          12.40 s
"
        );
    }
}
