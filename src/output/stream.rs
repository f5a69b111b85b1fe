//! Evaluate every customer and stream the rendered plan: workers own their buffers, results
//! are written in customer order (as ripgrep's parallel search), so the bytes never depend on
//! the number of threads.

use std::io::{IsTerminal, Write};

use rayon::prelude::*;

use crate::engine::history::Scratch;
use crate::engine::{Evaluator, Stats, Warning};

use super::{Format, Writer};

/// One task's rendered bytes, counts, data warnings and what it emitted.
type TaskOutput = (Vec<u8>, Vec<Warning>, Emitted);

/// What a run emitted: messages written, and for a run with a ledger how many were late or
/// expired, and the ledger lines to record once the output is in place.
#[derive(Debug, Default)]
pub struct Emitted {
    pub messages: u64,
    pub late: u64,
    pub expired: u64,
    pub ledger: Vec<u8>,
    /// Messages of today's replay that the ledger holds (the rest of the ledger is messages
    /// the replay no longer produces: the dialogues or data changed).
    pub held_seen: u64,
    /// Messages an email format left out: another channel, or no address.
    pub not_mail: u64,
    /// Messages written, by dialogue and status.
    pub by_status: std::collections::BTreeMap<(usize, &'static str), u64>,
    /// SMS messages longer than `content.sms_max_segments`, by template key: (count, most
    /// segments).
    pub long_sms: std::collections::BTreeMap<String, (u64, usize)>,
}

impl Emitted {
    fn add(&mut self, o: Emitted) {
        self.messages += o.messages;
        self.late += o.late;
        self.expired += o.expired;
        self.held_seen += o.held_seen;
        self.not_mail += o.not_mail;
        self.ledger.extend_from_slice(&o.ledger);
        for (k, n) in o.by_status {
            *self.by_status.entry(k).or_default() += n;
        }
        for (k, (n, most)) in o.long_sms {
            let e = self.long_sms.entry(k).or_default();
            e.0 += n;
            e.1 = e.1.max(most);
        }
    }
}

/// Customers evaluated together before their output is written: bounds memory whatever the
/// number of customers. Up to three batches of output are in memory (one rendered, one in the
/// channel, one being written), and the pool keeps their buffers: about 100 MB at 4 KB of
/// output per customer, a tenth of a 10M-row run's peak.
const BATCH: usize = 1 << 13;
/// The output one batch should stay within (up to three are in memory).
const BATCH_BYTES: usize = 48 << 20;

/// The size of the next batch, from the output per customer of the last (`done` customers,
/// `bytes` of output): as many as fit in BATCH_BYTES, from `least` to BATCH customers.
fn next_batch(size: usize, done: usize, bytes: usize, least: usize) -> usize {
    let per_customer = (bytes / done.max(1)).max(1);
    let fit = BATCH_BYTES / per_customer;
    // Grow by at most double at a time, so one light batch does not open the gate.
    fit.min(size.saturating_mul(2)).clamp(least.min(BATCH), BATCH)
}

/// Customers per parallel task; each task owns its buffers and output chunk. 64 tasks per
/// batch, so the threads finishing a batch's last tasks seldom wait on each other.
const TASK: usize = 128;

/// Output buffers handed back by the writer thread, so workers render into memory already
/// faulted in rather than growing fresh buffers (at most the few batches in flight).
#[derive(Default)]
struct Pool(std::sync::Mutex<Vec<Vec<u8>>>);

impl Pool {
    fn take(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }
    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
    }
}

/// Each running task's scratch space and counts, handed from task to task: buffers stay
/// grown, and counts are merged once per thread at the end instead of once per task (they
/// are sums, so which task added what does not matter).
#[derive(Default)]
struct Slots(std::sync::Mutex<Vec<(Scratch, Stats)>>);

impl Slots {
    fn take(&self) -> (Scratch, Stats) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }
    fn give(&self, slot: (Scratch, Stats)) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(slot);
    }
    fn drain(&self) -> Vec<(Scratch, Stats)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What `write_batches` hands its driver: evaluate and write one evaluator's customers (in
/// customer order, after those of the previous call).
pub type Emit<'e> = dyn FnMut(&Evaluator<'_>, &Writer<'_>) -> std::io::Result<()> + Send + 'e;

/// Stream the plan of several evaluators' customers to `out`, in the order `drive` passes
/// them to its `emit` (`--presorted` reads the inputs a batch of customers at a time, each
/// with its own evaluator). The header comes from the first writer. `customers`: the number
/// of customers for a progress bar, when one is wanted and known.
pub fn write_batches(
    format: Format,
    customers: Option<u64>,
    out: &mut (dyn Write + Send),
    drive: impl FnOnce(&mut Emit<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<(Stats, Vec<Warning>, Emitted)> {
    let mut stats = Stats::default();
    let mut warnings = Vec::new();
    let mut written = Emitted::default();
    // A writer thread drains finished batches while the pool evaluates the next one; the
    // bounded channel keeps at most two batches of output in memory.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
    // Drawn only when stderr is a terminal; cron logs stay clean.
    let progress = match customers {
        Some(n) if std::io::stderr().is_terminal() => {
            let pb = indicatif::ProgressBar::with_draw_target(Some(n), indicatif::ProgressDrawTarget::stderr());
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} customers {wide_bar} {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        }
        _ => indicatif::ProgressBar::hidden(),
    };
    let pool = Pool::default();
    let pool = &pool;
    let slots = Slots::default();
    let slots = &slots;
    std::thread::scope(|scope| {
        let writer_thread = scope.spawn(move || -> std::io::Result<()> {
            // The first batch starts with the header.
            let mut header = true;
            let mut any = false;
            for batch in rx {
                for bytes in batch {
                    if header {
                        header = false;
                        out.write_all(&bytes)?;
                    } else if format == Format::Json && !any && !bytes.is_empty() {
                        // The first customer of the array has no comma before it.
                        out.write_all(&bytes[1..])?;
                        any = true;
                    } else {
                        any |= !bytes.is_empty();
                        out.write_all(&bytes)?;
                    }
                    pool.give(bytes);
                }
            }
            out.write_all(Writer::footer(format, any))?;
            out.flush()
        });
        let mut header_sent = false;
        // The writer stopped (e.g. a closed pipe): its own error is the one reported below.
        let stopped = || std::io::Error::other("the output stopped");
        let mut emit = |ev: &Evaluator<'_>, writer: &Writer<'_>| -> std::io::Result<()> {
            if !header_sent {
                header_sent = true;
                tx.send(vec![writer.header(format)?]).map_err(|_| stopped())?;
            }
            let n = ev.data.people.len();
            let mut start = 0;
            // Batches start small and grow while their output stays within BATCH_BYTES: many
            // dialogues can give a customer hundreds of KB of plan.
            let least = TASK * 2 * rayon::current_num_threads().max(1);
            let mut size = least.min(BATCH);
            while start < n {
                let end = (start + size).min(n);
                let idx: Vec<usize> = (start..end).collect();
                let parts: Vec<std::io::Result<TaskOutput>> = idx
                    .par_chunks(TASK)
                    .map(|chunk| {
                        let mut slot = slots.take();
                        let (scratch, stats) = &mut slot;
                        let mut warnings = Vec::new();
                        let mut out = writer.chunk_into(format, pool.take());
                        let mut count = Emitted::default();
                        for &p in chunk {
                            stats.customers += 1;
                            let mut r = ev.run_customer(p, scratch, stats, None);
                            writer.render(&r, format, &mut out, &mut count)?;
                            warnings.append(&mut r.warnings);
                            scratch.recycle(r);
                        }
                        slots.give(slot);
                        Ok((out.into_bytes()?, warnings, count))
                    })
                    .collect();
                let mut batch = Vec::with_capacity(parts.len());
                let mut bytes_out = 0;
                for part in parts {
                    let (bytes, w, count) = part?;
                    written.add(count);
                    warnings.extend(w);
                    bytes_out += bytes.len();
                    batch.push(bytes);
                }
                size = next_batch(size, end - start, bytes_out, least);
                progress.inc((end - start) as u64);
                tx.send(batch).map_err(|_| stopped())?;
                start = end;
            }
            Ok(())
        };
        let driven = drive(&mut emit);
        for (_, s) in slots.drain() {
            stats.merge(s);
        }
        drop(tx);
        progress.finish_and_clear();
        let written_ok = writer_thread.join().unwrap_or_else(|_| Err(std::io::Error::other("output thread panicked")));
        // The writer's error first: a failed send only follows from it.
        written_ok?;
        driven
    })?;
    Ok((stats, warnings, written))
}

/// Evaluate every customer for their counts only (the report): nothing is rendered. Counts
/// are sums, so they do not depend on the number of threads either.
pub fn evaluate(ev: &Evaluator<'_>) -> (Stats, Vec<Warning>) {
    let idx: Vec<usize> = (0..ev.data.people.len()).collect();
    let parts: Vec<(Stats, Vec<Warning>)> = idx
        .par_chunks(TASK)
        .map(|chunk| {
            let mut scratch = Scratch::default();
            let mut stats = Stats::default();
            let mut warnings = Vec::new();
            for &p in chunk {
                stats.customers += 1;
                let mut r = ev.run_customer(p, &mut scratch, &mut stats, None);
                warnings.append(&mut r.warnings);
                scratch.recycle(r);
            }
            (stats, warnings)
        })
        .collect();
    let mut stats = Stats::default();
    let mut warnings = Vec::new();
    for (s, w) in parts {
        stats.merge(s);
        warnings.extend(w);
    }
    (stats, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_while_their_output_fits_and_shrink_when_it_does_not() {
        let least = 512;
        // 4 KB a customer: doubling up to the cap of customers.
        assert_eq!(next_batch(512, 512, 512 * 4096, least), 1024);
        assert_eq!(next_batch(BATCH, BATCH, BATCH * 4096, least), BATCH);
        // 400 KB a customer: as many as fit in BATCH_BYTES, never under `least`.
        assert_eq!(next_batch(1024, 1024, 1024 * 400_000, least), least.max(BATCH_BYTES / 400_000));
        assert_eq!(next_batch(BATCH, BATCH, BATCH * 40_000, least), BATCH_BYTES / 40_000);
        // Nothing written: grows, and an empty batch does not divide by zero.
        assert_eq!(next_batch(512, 512, 0, least), 1024);
        assert_eq!(next_batch(512, 0, 0, least), 1024);
    }
}
