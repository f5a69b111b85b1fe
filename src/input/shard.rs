//! `--shard K/N`: one of N disjoint slices of the customers, by a stable hash of the customer
//! id. Everything kairos computes is per customer, so N runs over the same inputs, one per
//! shard, together compute exactly what one run computes; their outputs, merged in customer
//! order, are byte-identical to it.
//!
//! A customer is in shard K of N when `xxh3_64(id) % N == K - 1`: xxh3-64 with seed 0 over the
//! UTF-8 bytes of the id as kairos reads it (surrounding whitespace trimmed, as every cell).
//! The same function is `xxhash.xxh3_64_intdigest(id.encode())` in Python, which is how the
//! Spark job (integrations/spark) partitions the inputs.

use std::fmt;
use std::str::FromStr;

use xxhash_rust::xxh3::xxh3_64;

/// The most shards a run can be split into.
pub const MAX_SHARDS: u32 = 65_536;

/// Shard `k` (1-based) of `n`. `Shard::ALL` (1/1) keeps everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl Shard {
    /// Every customer: an unsharded run.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Shard `k` of `n`, checked: `1 <= k <= n <= 65536`.
    pub fn new(k: u32, n: u32) -> Result<Shard, String> {
        if n == 0 || n > MAX_SHARDS {
            return Err(format!("N must be from 1 to {MAX_SHARDS}, not {n}"));
        }
        if k == 0 || k > n {
            return Err(format!("K must be from 1 to N ({n}), not {k}"));
        }
        Ok(Shard { k, n })
    }

    /// Is this an unsharded run (1/1)?
    pub fn is_all(&self) -> bool {
        self.n == 1
    }

    /// The shard (0-based) a customer id falls in, out of `n`.
    pub fn index_of(id: &[u8], n: u32) -> u32 {
        (xxh3_64(id) % u64::from(n.max(1))) as u32
    }

    /// Does this shard hold the customer with this id?
    #[inline]
    pub fn keeps(&self, id: &[u8]) -> bool {
        self.n <= 1 || Self::index_of(id, self.n) == self.k - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, e.g. `3/8`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| "expected K/N, e.g. 3/8 (shard 3 of 8)".to_owned())?;
        let num = |x: &str, what: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} must be a whole number from 1 to {MAX_SHARDS}, not {x:?}"))
        };
        Shard::new(num(k, "K")?, num(n, "N")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { k: 3, n: 8 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard::ALL));
        assert_eq!("65536/65536".parse::<Shard>(), Ok(Shard { k: 65536, n: 65536 }));
        assert_eq!("0/4".parse::<Shard>().unwrap_err(), "K must be from 1 to N (4), not 0");
        assert_eq!("5/4".parse::<Shard>().unwrap_err(), "K must be from 1 to N (4), not 5");
        assert_eq!("1/0".parse::<Shard>().unwrap_err(), "N must be from 1 to 65536, not 0");
        assert_eq!("1/65537".parse::<Shard>().unwrap_err(), "N must be from 1 to 65536, not 65537");
        assert_eq!("3".parse::<Shard>().unwrap_err(), "expected K/N, e.g. 3/8 (shard 3 of 8)");
        assert_eq!("a/2".parse::<Shard>().unwrap_err(), "K must be a whole number from 1 to 65536, not \"a\"");
        assert_eq!("1/-2".parse::<Shard>().unwrap_err(), "N must be a whole number from 1 to 65536, not \"-2\"");
        assert_eq!(Shard { k: 2, n: 5 }.to_string(), "2/5");
    }

    #[test]
    fn every_customer_is_in_exactly_one_shard() {
        for n in [1u32, 2, 3, 7, 64] {
            for i in 0..500 {
                let id = format!("C{i:07}");
                let holders = (1..=n).filter(|&k| Shard { k, n }.keeps(id.as_bytes())).count();
                assert_eq!(holders, 1, "{id} in {n} shards");
            }
        }
    }

    #[test]
    fn the_hash_is_xxh3_64_of_the_id_bytes() {
        // Pinned: the Spark job computes the same with Python's `xxhash.xxh3_64_intdigest`.
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(Shard::index_of(b"C0000001", 1 << 16), (xxh3_64(b"C0000001") % 65536) as u32);
        // Shards spread customers evenly.
        let n = 4;
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            counts[Shard::index_of(format!("C{i:07}").as_bytes(), n) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn loading_a_shard_keeps_its_customers_rows_only() {
        use crate::input::table::{load_sharded, TableSpec};
        use crate::model::TableKind;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tx.csv");
        let mut body = "customer_id,timestamp,amount\n".to_owned();
        for i in 0..60 {
            body.push_str(&format!("C{i},2025-01-0{},{i}\n", 1 + i % 9));
        }
        let bad = (0..).map(|i| format!("X{i}")).find(|id| !Shard { k: 1, n: 3 }.keeps(id.as_bytes())).unwrap();
        body.push_str(&format!("{bad},2025-01-01,12;50\n"));
        std::fs::write(&p, body).unwrap();
        let rename = Default::default();
        let numeric = vec!["amount".to_owned()];
        let spec = TableSpec {
            kind: TableKind::Transactions,
            rename: &rename,
            numeric: &numeric,
            has_time: true,
            tie_first: &[],
        };
        let mut seen = Vec::new();
        for k in 1..=3 {
            let shard = Shard { k, n: 3 };
            match load_sharded(&p, &spec, None, chrono_tz::Tz::UTC, shard) {
                Ok(t) => {
                    // Other shards never parse the bad amount.
                    assert!(!shard.keeps(bad.as_bytes()), "{bad} is in shard {k}");
                    for r in 0..t.len() {
                        assert!(shard.keeps(t.customer_id(r).as_bytes()));
                        seen.push(t.customer_id(r).to_owned());
                    }
                }
                Err(e) => {
                    assert!(shard.keeps(bad.as_bytes()), "{e}");
                    assert!(e.to_string().contains("\"12;50\" is not a number"), "{e}");
                    let good = body_without(&p, &bad);
                    let t = load_sharded(&good, &spec, None, chrono_tz::Tz::UTC, shard).unwrap();
                    seen.extend((0..t.len()).map(|r| t.customer_id(r).to_owned()));
                }
            }
        }
        seen.sort();
        let mut all: Vec<String> = (0..60).map(|i| format!("C{i}")).collect();
        all.sort();
        assert_eq!(seen, all, "every customer in exactly one shard");
    }

    /// A copy of the file without the rows of `id`.
    fn body_without(p: &std::path::Path, id: &str) -> std::path::PathBuf {
        let text = std::fs::read_to_string(p).unwrap();
        let kept: String =
            text.lines().filter(|l| !l.starts_with(&format!("{id},"))).map(|l| format!("{l}\n")).collect();
        let out = p.with_file_name("good.csv");
        std::fs::write(&out, kept).unwrap();
        out
    }
}
