//! Proportions with 95% confidence intervals: Wilson score intervals for one rate, Newcombe's
//! hybrid score interval for the difference of two (Newcombe 1998, method 10), and the plain
//! verdict a marketer reads.

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Fewer customers than this in a group: too few to compare.
pub const MIN_GROUP: u64 = 30;

/// A rate `k / n` with its Wilson interval (all 0 when `n` is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub p: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The Wilson score interval of `k` successes in `n` trials at `z`.
pub fn wilson(k: u64, n: u64, z: f64) -> Rate {
    if n == 0 {
        return Rate { k, n, p: 0.0, lo: 0.0, hi: 0.0 };
    }
    let k = k.min(n);
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // The interval always holds p; rounding must not push it past 0 or 1.
    Rate { k, n, p, lo: (centre - half).max(0.0).min(p), hi: (centre + half).min(1.0).max(p) }
}

/// The difference `a.p - b.p` with Newcombe's interval from the two Wilson intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    pub d: f64,
    pub lo: f64,
    pub hi: f64,
}

pub fn newcombe(a: &Rate, b: &Rate) -> Diff {
    let d = a.p - b.p;
    let lo = d - ((a.p - a.lo).powi(2) + (b.hi - b.p).powi(2)).sqrt();
    let hi = d + ((a.hi - a.p).powi(2) + (b.p - b.lo).powi(2)).sqrt();
    Diff { d, lo: lo.max(-1.0), hi: hi.min(1.0) }
}

/// What the comparison of treated against held-out customers says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// A group is smaller than `MIN_GROUP`.
    TooFew,
    /// The interval of the difference holds 0.
    NoClearDifference(Diff),
    /// Treated customers do better (the whole interval above 0).
    Better(Diff),
    /// Treated customers do worse.
    Worse(Diff),
}

/// Compare the treated rate with the held-out one.
pub fn verdict(treated: &Rate, held_out: &Rate) -> Verdict {
    if treated.n < MIN_GROUP || held_out.n < MIN_GROUP {
        return Verdict::TooFew;
    }
    let diff = newcombe(treated, held_out);
    if diff.lo > 0.0 {
        Verdict::Better(diff)
    } else if diff.hi < 0.0 {
        Verdict::Worse(diff)
    } else {
        Verdict::NoClearDifference(diff)
    }
}

/// A share as a percentage with one decimal, `12.3%`.
pub fn pct(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

/// A difference in percentage points with its sign, `+4.2 pt`.
pub fn points(d: f64) -> String {
    let v = d * 100.0;
    // -0.0 prints as "-0.0": a difference that rounds to nothing has no sign.
    if v.abs() < 0.05 {
        "±0.0 pt".to_owned()
    } else {
        format!("{v:+.1} pt")
    }
}

impl Verdict {
    /// The verdict in one plain sentence.
    pub fn sentence(&self) -> String {
        match self {
            Verdict::TooFew => format!(
                "Not enough customers to tell: each group needs at least {MIN_GROUP} customers whose outcome is known."
            ),
            Verdict::NoClearDifference(d) => format!(
                "No clear difference: the messages change the rate by {} (95% interval {} to {}), which includes no effect.",
                points(d.d),
                points(d.lo),
                points(d.hi)
            ),
            Verdict::Better(d) => format!(
                "The messages help: treated customers reach it {:.1} pt more often (95% interval {:.1} to {:.1} pt).",
                d.d * 100.0,
                d.lo * 100.0,
                d.hi * 100.0
            ),
            Verdict::Worse(d) => format!(
                "The messages hurt: treated customers reach it {:.1} pt less often (95% interval {:.1} to {:.1} pt).",
                -d.d * 100.0,
                -d.hi * 100.0,
                -d.lo * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605.
        let r = wilson(81, 263, Z95);
        assert!(close(r.lo, 0.2553) && close(r.hi, 0.3662), "{r:?}");
        let r = wilson(15, 148, Z95);
        assert!(close(r.lo, 0.0624) && close(r.hi, 0.1605), "{r:?}");
        // The edges: 0/10 starts at 0, 10/10 ends at 1, and both hold p.
        let r = wilson(0, 10, Z95);
        assert_eq!((r.p, r.lo), (0.0, 0.0));
        assert!(close(r.hi, 0.2775), "{r:?}");
        let r = wilson(10, 10, Z95);
        assert_eq!((r.p, r.hi), (1.0, 1.0));
        assert_eq!(wilson(0, 0, Z95), Rate { k: 0, n: 0, p: 0.0, lo: 0.0, hi: 0.0 });
    }

    #[test]
    fn newcombe_matches_the_published_example() {
        // Newcombe (1998), table II example (a): 56/70 − 48/80 = 0.2000, 0.0524 to 0.3339.
        let d = newcombe(&wilson(56, 70, Z95), &wilson(48, 80, Z95));
        assert!(close(d.d, 0.2) && close(d.lo, 0.0524) && close(d.hi, 0.3339), "{d:?}");
    }

    #[test]
    fn the_verdict_says_too_few_unclear_better_or_worse() {
        assert_eq!(verdict(&wilson(10, 20, Z95), &wilson(5, 100, Z95)), Verdict::TooFew);
        assert!(matches!(verdict(&wilson(30, 100, Z95), &wilson(28, 100, Z95)), Verdict::NoClearDifference(_)));
        assert!(matches!(verdict(&wilson(56, 70, Z95), &wilson(48, 80, Z95)), Verdict::Better(_)));
        let v = verdict(&wilson(48, 80, Z95), &wilson(56, 70, Z95));
        assert!(matches!(v, Verdict::Worse(_)));
        assert_eq!(
            v.sentence(),
            "The messages hurt: treated customers reach it 20.0 pt less often (95% interval 5.2 to 33.4 pt)."
        );
        assert_eq!(points(-0.0001), "±0.0 pt");
    }
}
