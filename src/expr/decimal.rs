//! Decimal arithmetic on the numbers conditions compute with. Numbers are `f64`s, read from
//! decimal text (`19.99`); binary arithmetic on them is off in the last bit (`19.99 - 9.99` is
//! `9.999999999999998`, so `>= 10` is false). Here each operand is taken as the decimal it
//! was read from (the fewest places, up to `MAX_PLACES`, that give back the same `f64`), the
//! operation is done on integers, and the result is the `f64` nearest to the exact decimal
//! result: what `10.00` would read as. Operands that are not such decimals (a quotient such as
//! `1/3`, numbers past 2^53 in their last place) fall back to `f64` arithmetic.

/// The most decimal places an operand is taken to have (micro-units and three more).
const MAX_PLACES: u32 = 9;

/// Integers below this are exact in an `f64`.
const EXACT: i128 = 1 << 53;

const POW10: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// `x` as `m / 10^places` with the fewest places that give back `x` exactly, if there is one.
fn decimal(x: f64) -> Option<(i128, u32)> {
    if !x.is_finite() {
        return None;
    }
    for places in 0..=MAX_PLACES {
        let scaled = (x * POW10[places as usize]).round();
        if scaled.abs() >= EXACT as f64 {
            return None;
        }
        if scaled / POW10[places as usize] == x {
            return Some((scaled as i128, places));
        }
    }
    None
}

/// `m / 10^places` as the nearest `f64`, if `m` is exact in one (then one division is
/// correctly rounded).
fn to_f64(m: i128, places: u32) -> Option<f64> {
    (m.abs() < EXACT && (places as usize) < POW10.len()).then(|| m as f64 / POW10[places as usize])
}

/// Both operands at the same number of places.
fn aligned(a: f64, b: f64) -> Option<(i128, i128, u32)> {
    let ((ma, pa), (mb, pb)) = (decimal(a)?, decimal(b)?);
    let p = pa.max(pb);
    let scale = |m: i128, from: u32| m.checked_mul(10i128.pow(p - from));
    Some((scale(ma, pa)?, scale(mb, pb)?, p))
}

pub fn add(a: f64, b: f64) -> f64 {
    aligned(a, b).and_then(|(a, b, p)| to_f64(a + b, p)).unwrap_or(a + b)
}

pub fn sub(a: f64, b: f64) -> f64 {
    aligned(a, b).and_then(|(a, b, p)| to_f64(a - b, p)).unwrap_or(a - b)
}

pub fn mul(a: f64, b: f64) -> f64 {
    let exact = || {
        let ((ma, pa), (mb, pb)) = (decimal(a)?, decimal(b)?);
        to_f64(ma.checked_mul(mb)?, pa + pb)
    };
    exact().unwrap_or(a * b)
}

/// The quotient of the two decimals, correctly rounded (`0.3 / 0.1` is 3, not
/// 2.9999999999999996). The caller handles a zero divisor.
pub fn div(a: f64, b: f64) -> f64 {
    match aligned(a, b) {
        Some((ma, mb, _)) if ma.abs() < EXACT && mb.abs() < EXACT => ma as f64 / mb as f64,
        _ => a / b,
    }
}

/// The remainder of the two decimals (`1.1 % 0.1` is 0). The caller handles a zero divisor.
pub fn rem(a: f64, b: f64) -> f64 {
    aligned(a, b).filter(|(_, mb, _)| *mb != 0).and_then(|(a, b, p)| to_f64(a % b, p)).unwrap_or(a % b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_differences_are_the_decimals_they_look_like() {
        assert_eq!(19.99 - 9.99, 9.999999999999998, "binary arithmetic, for contrast");
        assert_eq!(sub(19.99, 9.99), 10.0);
        assert_eq!(sub(16.08, 6.08), 10.0);
        assert_eq!(sub(100.0, 64.1), 35.9);
        assert_eq!(add(0.1, 0.2), 0.3);
        assert_eq!(add(-0.1, 0.1), 0.0);
        assert_eq!(mul(1.1, 1.1), 1.21);
        assert_eq!(mul(19.99, 3.0), 59.97);
        assert_eq!(div(0.3, 0.1), 3.0);
        assert_eq!(div(1.0, 3.0), 1.0 / 3.0);
        assert_eq!(rem(1.1, 0.1), 0.0);
        assert_eq!(rem(7.5, 2.0), 1.5);
    }

    #[test]
    fn numbers_that_are_no_short_decimal_use_binary_arithmetic() {
        let third = 1.0 / 3.0;
        assert_eq!(add(third, 1.0), third + 1.0);
        assert_eq!(sub(1e300, 1.0), 1e300 - 1.0);
        assert_eq!(mul(1e10, 1e10), 1e20);
        assert!(add(f64::NAN, 1.0).is_nan());
        assert_eq!(add(f64::INFINITY, 1.0), f64::INFINITY);
        // Past 2^53 in the last place: no exact integer form.
        assert_eq!(add(9007199254740993.0, 0.5), 9007199254740993.0 + 0.5);
    }

    proptest::proptest! {
        /// Two decimals of up to 6 places: the sum and difference are what the decimal text of
        /// the exact result reads as.
        #[test]
        fn sums_of_decimals_read_as_the_exact_decimal(a in -10_000_000_000i64..10_000_000_000, b in -10_000_000_000i64..10_000_000_000, pa in 0u32..7, pb in 0u32..7) {
            let x: f64 = format!("{}e-{pa}", a).parse().unwrap();
            let y: f64 = format!("{}e-{pb}", b).parse().unwrap();
            let p = pa.max(pb);
            let (ma, mb) = (i128::from(a) * 10i128.pow(p - pa), i128::from(b) * 10i128.pow(p - pb));
            let want = |m: i128| -> f64 { format!("{m}e-{p}").parse().unwrap() };
            proptest::prop_assert_eq!(add(x, y), want(ma + mb));
            proptest::prop_assert_eq!(sub(x, y), want(ma - mb));
        }
    }
}
