//! Decimal text to the nearest `f64`, exactly as `str::parse` rounds, in a few hundred bytes of
//! code.
//!
//! The standard library's parser (Eisel–Lemire with a big-decimal fallback) is fast and brings
//! a 10 KB table of powers of five with it: 14 KB of the wasm module's 100 KB budget after gzip
//! (measured with the module built with and without it). Formula literals are few and short,
//! so here a simple exact method does: Clinger's fast path when the digits and the power of ten
//! are both exact in an `f64` (Clinger 1990, "How to read floating point numbers accurately"),
//! and otherwise an approximation corrected against exact big-integer comparisons with the
//! midpoints between neighbouring doubles (the same paper's AlgorithmR, one ulp a step).
//! Ties round to even, as IEEE 754 and `str::parse` do; a test compares the two bit for bit.

use std::cmp::Ordering;

/// Largest power of ten that an `f64` holds exactly (10^22 < 2^53 × 2^22).
const EXACT_POWERS_OF_TEN: i64 = 22;
/// Beyond these decimal magnitudes the value is infinite or rounds to zero whatever its digits:
/// the largest double is below 1.8e308 and the smallest above 4.9e-324.
const MAX_MAGNITUDE: i64 = 310;
const MIN_MAGNITUDE: i64 = -326;

/// The value of `text`, written `-?D+(.D+)?([eE][+-]?D+)?`, rounded to the nearest double (ties
/// to even): infinite when it is too large, zero when too small. `None` when `text` is not of
/// that form.
pub fn parse_decimal(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let fraction = fraction.unwrap_or("");
    let mut power = match exponent {
        Some(e) => parse_exponent(e)?,
        None => 0,
    };
    power -= fraction.len() as i64;
    let digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .skip_while(|&b| b == b'0')
        .map(|b| b - b'0')
        .collect();
    let magnitude = power.saturating_add(digits.len() as i64);
    let value = if digits.is_empty() || magnitude < MIN_MAGNITUDE {
        0.0
    } else if magnitude > MAX_MAGNITUDE {
        f64::INFINITY
    } else {
        nearest(&digits, power)
    };
    Some(if negative { -value } else { value })
}

/// An exponent's digits with their sign, saturating far beyond any magnitude that matters.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits
        .bytes()
        .fold(0i64, |acc, b| (acc * 10 + i64::from(b - b'0')).min(1 << 40));
    Some(if negative { -value } else { value })
}

/// The double nearest to `digits × 10^power` (`digits` without leading zeros, not empty, and
/// the magnitude within the finite range's neighbourhood).
fn nearest(digits: &[u8], power: i64) -> f64 {
    // Clinger's fast path: both factors exact, so the one rounding of the product or quotient
    // is the correct one.
    if digits.len() <= 15 && power.abs() <= EXACT_POWERS_OF_TEN {
        let m = digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d)) as f64;
        let p = 10f64.powi(power.abs() as i32);
        return if power >= 0 { m * p } else { m / p };
    }
    let value = Big::from_digits(digits);
    let mut x = approximate(digits, power);
    // Step one double at a time until the value lies between the midpoints on either side;
    // the approximation is a few ulps off at most, so this takes a few steps.
    loop {
        let (m, e) = decompose(x);
        if x == f64::INFINITY {
            // Infinite when the value reaches the midpoint between the largest double and 2^1024.
            let (max_m, max_e) = decompose(f64::MAX);
            if compare(&value, power, 2 * max_m + 1, max_e - 1) == Ordering::Less {
                x = f64::MAX;
                continue;
            }
            return x;
        }
        let above = compare(&value, power, 2 * m + 1, e - 1);
        if above == Ordering::Greater || (above == Ordering::Equal && m % 2 == 1) {
            x = next_up(x);
            continue;
        }
        if x > 0.0 {
            let (below_m, below_e) = midpoint_below(m, e);
            let below = compare(&value, power, below_m, below_e);
            if below == Ordering::Less || (below == Ordering::Equal && m % 2 == 1) {
                x = next_down(x);
                continue;
            }
        }
        return x;
    }
}

/// A double within a few ulps of `digits × 10^power`: the first 19 digits, scaled in two steps
/// so that neither factor overflows or underflows on its own.
fn approximate(digits: &[u8], power: i64) -> f64 {
    let kept = digits.len().min(19);
    let m = digits[..kept]
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d)) as f64;
    let scale = power + (digits.len() - kept) as i64;
    let half = scale / 2;
    m * 10f64.powi(half as i32) * 10f64.powi((scale - half) as i32)
}

/// `x` as `m × 2^e` with `m` an integer (the hidden bit included for normal doubles).
fn decompose(x: f64) -> (u64, i64) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    }
}

/// The midpoint between the double `m × 2^e` (positive) and the next one down, as
/// `(numerator, exponent)`. Below a power of two the spacing halves.
fn midpoint_below(m: u64, e: i64) -> (u64, i64) {
    if m == 1 << 52 && e > -1074 {
        (4 * m - 1, e - 2)
    } else {
        (2 * m - 1, e - 1)
    }
}

fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

fn next_down(x: f64) -> f64 {
    f64::from_bits(x.to_bits() - 1)
}

/// `value × 10^power` against `m × 2^e`, both made integers by moving the negative powers
/// across.
fn compare(value: &Big, power: i64, m: u64, e: i64) -> Ordering {
    let mut left = value.clone();
    let mut right = Big::from_u64(m);
    if power >= 0 {
        left.mul_pow10(power as u32);
    } else {
        right.mul_pow10(power.unsigned_abs() as u32);
    }
    if e >= 0 {
        right.shl(e as u32);
    } else {
        left.shl(e.unsigned_abs() as u32);
    }
    left.cmp(&right)
}

/// A non-negative integer in base 2^32, least significant limb first, without high zero limbs.
#[derive(Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Self {
        let mut big = Big(vec![v as u32, (v >> 32) as u32]);
        big.trim();
        big
    }

    fn from_digits(digits: &[u8]) -> Self {
        let mut big = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d));
            big.mul_add(10u32.pow(chunk.len() as u32), value);
        }
        big
    }

    /// `self × factor + add`.
    fn mul_add(&mut self, factor: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut power: u32) {
        while power > 0 {
            let step = power.min(9);
            self.mul_add(10u32.pow(step), 0);
            power -= step;
        }
    }

    fn shl(&mut self, bits: u32) {
        let (limbs, bits) = ((bits / 32) as usize, bits % 32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let shifted = (u64::from(*limb) << bits) | carry;
                *limb = shifted as u32;
                carry = shifted >> 32;
            }
            if carry > 0 {
                self.0.push(carry as u32);
            }
        }
        if !self.0.is_empty() {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn same_as_std(text: &str) {
        let expected: f64 = text.parse().unwrap();
        let got = parse_decimal(text).unwrap();
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "{text}: {got:e} vs {expected:e}"
        );
    }

    /// Cases where a careless method is off by one ulp: exact halfway points (ties to even),
    /// the edges of the subnormal and the finite range, and long inputs whose deciding digit is
    /// far to the right.
    #[test]
    fn hard_cases_round_as_str_parse_does() {
        for text in [
            "0",
            "0.0",
            "-0",
            "1",
            "9007199254740992",
            "9007199254740993",
            "9007199254740995",
            "9007199254740993.0000000000000000000000000000001",
            "2.2250738585072011e-308",
            "2.2250738585072012e-308",
            "2.2250738585072014e-308",
            "4.9e-324",
            "5e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "0.1",
            "0.3",
            "123456789012345678901234567890",
            "3.141592653589793238462643383279502884197",
            "1e23",
            "8.98846567431158e307",
            "0.000000000000000000000000000000000000000000000000000000001",
            "00000123.4560000e-000000000000000000000000002",
            "1e-99999999999999999999",
            "1e99999999999999999999",
            "7.3177701707893310e+15",
            "2.2250738585072011360574097967091319759348195463516456480234261097248280e-308",
        ] {
            same_as_std(text);
        }
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for text in [
            "", "-", ".5", "5.", "1e", "1e+", "e5", "1.2.3", "0x10", "1_000", " 1", "inf",
        ] {
            assert_eq!(parse_decimal(text), None, "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        /// Any mantissa of up to 40 digits at any scale rounds as `str::parse` rounds.
        #[test]
        fn rounds_as_str_parse_does(
            digits in "[0-9]{1,40}",
            point in 0usize..40,
            exponent in -360i32..330,
            negative in any::<bool>(),
        ) {
            let point = point.min(digits.len() - 1);
            let (whole, fraction) = digits.split_at(digits.len() - point);
            let sign = if negative { "-" } else { "" };
            let text = if fraction.is_empty() {
                format!("{sign}{whole}e{exponent}")
            } else {
                format!("{sign}{whole}.{fraction}e{exponent}")
            };
            same_as_std(&text);
        }

        /// Every double, printed exactly enough to identify it or printed as the midpoint to one
        /// of its neighbours, comes back as `str::parse` gives it.
        #[test]
        fn doubles_and_their_midpoints(bits in 1u64..0x7ff0_0000_0000_0000) {
            let x = f64::from_bits(bits);
            same_as_std(&format!("{x:e}"));
            same_as_std(&format!("{x:.25e}"));
            let (m, e) = decompose(x);
            // The exact midpoint above x, m' × 2^e', written out in decimal.
            let (m, e) = (2 * m + 1, e - 1);
            let mut exact = Big::from_u64(m);
            let text = if e >= 0 {
                exact.shl(e as u32);
                exact.to_decimal()
            } else {
                // m × 2^e = m × 5^-e / 10^-e.
                let k = e.unsigned_abs() as u32;
                for _ in 0..k {
                    exact.mul_add(5, 0);
                }
                format!("{}e-{k}", exact.to_decimal())
            };
            same_as_std(&text);
        }
    }

    impl Big {
        /// Decimal digits, for the tests' exact midpoints.
        fn to_decimal(&self) -> String {
            let mut limbs = self.0.clone();
            let mut chunks = Vec::new();
            while !limbs.is_empty() {
                let mut remainder = 0u64;
                for limb in limbs.iter_mut().rev() {
                    let current = (remainder << 32) | u64::from(*limb);
                    *limb = (current / 1_000_000_000) as u32;
                    remainder = current % 1_000_000_000;
                }
                while limbs.last() == Some(&0) {
                    limbs.pop();
                }
                chunks.push(remainder);
            }
            let mut text = chunks.pop().map_or("0".to_string(), |c| c.to_string());
            for chunk in chunks.iter().rev() {
                text.push_str(&format!("{chunk:09}"));
            }
            text
        }
    }
}
