//! Exact-where-possible numbers for graph constants.
//!
//! A constant written in a formula (`2`, `3.5`, `1e-3`) is an exact rational.
//! Arithmetic between rationals stays exact until it would overflow `i64`, at
//! which point it falls back to `f64`; anything that meets a float becomes a
//! float. This keeps derivatives such as `2*x*y` free of `2.0`.

use num_rational::Ratio;
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, CheckedSub, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A graph constant: an exact rational or a float.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    /// An exact rational number, always in lowest terms with a positive denominator.
    Rational(Ratio<i64>),
    /// A floating-point number (never produced from exact input unless arithmetic overflowed).
    Float(f64),
}

// The arithmetic methods are named like the operator traits on purpose but
// are not those traits: each may change representation (exact to float on
// overflow), and `div` can refuse, which operators would hide.
#[allow(clippy::should_implement_trait)]
impl Num {
    /// The integer `n` as an exact number.
    pub fn int(n: i64) -> Num {
        Num::Rational(Ratio::from_integer(n))
    }

    /// The exact rational `numer / denom`; `None` when `denom` is zero.
    pub fn ratio(numer: i64, denom: i64) -> Option<Num> {
        (denom != 0).then(|| Num::Rational(Ratio::new(numer, denom)))
    }

    /// Parses a decimal literal (`2`, `3.5`, `1e-3`, `.5`) exactly when it fits in
    /// a rational with `i64` parts, and as a float otherwise.
    pub fn parse_decimal(text: &str) -> Option<Num> {
        let (mantissa, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part
            .chars()
            .chain(frac_part.chars())
            .all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let exact = (|| {
            let digits = format!("{int_part}{frac_part}");
            let digits = digits.trim_start_matches('0');
            let numer: i64 = if digits.is_empty() {
                0
            } else {
                digits.parse().ok()?
            };
            let scale = exp.checked_sub(i32::try_from(frac_part.len()).ok()?)?;
            let pow = 10i64.checked_pow(scale.unsigned_abs())?;
            if scale >= 0 {
                Some(Num::int(numer.checked_mul(pow)?))
            } else {
                Num::ratio(numer, pow)
            }
        })();
        exact.or_else(|| text.parse::<f64>().ok().map(Num::Float))
    }

    /// The value as `f64`.
    pub fn to_f64(self) -> f64 {
        match self {
            Num::Rational(r) => {
                // Dividing the two parts as floats is exact enough for i64 inputs.
                r.numer().to_f64().unwrap_or(f64::NAN) / r.denom().to_f64().unwrap_or(f64::NAN)
            }
            Num::Float(f) => f,
        }
    }

    /// Whether this is exactly zero.
    pub fn is_zero(self) -> bool {
        match self {
            Num::Rational(r) => r.is_zero(),
            Num::Float(f) => f == 0.0,
        }
    }

    /// Whether this is exactly one.
    pub fn is_one(self) -> bool {
        self.is_int(1)
    }

    /// Whether this equals the integer `n`.
    pub fn is_int(self, n: i64) -> bool {
        match self {
            Num::Rational(r) => r.is_integer() && *r.numer() == n,
            Num::Float(f) => f == n as f64,
        }
    }

    /// The integer value, when this is an exact integer.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Num::Rational(r) if r.is_integer() => Some(*r.numer()),
            _ => None,
        }
    }

    /// Whether this is an exact rational.
    pub fn is_exact(self) -> bool {
        matches!(self, Num::Rational(_))
    }

    /// Whether the value is negative.
    pub fn is_negative(self) -> bool {
        match self {
            Num::Rational(r) => *r.numer() < 0,
            Num::Float(f) => f < 0.0,
        }
    }

    fn exact_or_float(
        self,
        other: Num,
        exact: impl Fn(&Ratio<i64>, &Ratio<i64>) -> Option<Ratio<i64>>,
        float: impl Fn(f64, f64) -> f64,
    ) -> Num {
        if let (Num::Rational(a), Num::Rational(b)) = (self, other) {
            if let Some(r) = exact(&a, &b) {
                return Num::Rational(r);
            }
        }
        Num::Float(float(self.to_f64(), other.to_f64()))
    }

    /// `self + other`, exact when both are rationals and the result fits.
    pub fn add(self, other: Num) -> Num {
        self.exact_or_float(other, |a, b| a.checked_add(b), |a, b| a + b)
    }

    /// `self - other`.
    pub fn sub(self, other: Num) -> Num {
        self.exact_or_float(other, |a, b| a.checked_sub(b), |a, b| a - b)
    }

    /// `self * other`.
    pub fn mul(self, other: Num) -> Num {
        self.exact_or_float(other, |a, b| a.checked_mul(b), |a, b| a * b)
    }

    /// `self / other`; `None` when `other` is an exact zero.
    pub fn div(self, other: Num) -> Option<Num> {
        if other.is_zero() && other.is_exact() {
            return None;
        }
        Some(self.exact_or_float(other, |a, b| a.checked_div(b), |a, b| a / b))
    }

    /// `-self`.
    pub fn neg(self) -> Num {
        Num::int(0).sub(self)
    }

    /// `self ^ other` when it can be computed exactly (integer exponent on a
    /// rational, with `0^negative` refused); `None` otherwise, so the caller keeps
    /// a symbolic power such as `2^(1/2)`.
    pub fn pow_exact(self, exponent: Num) -> Option<Num> {
        let (Num::Rational(base), Some(e)) = (self, exponent.as_int()) else {
            return None;
        };
        if base.is_zero() && e < 0 {
            return None;
        }
        let e32 = u32::try_from(e.unsigned_abs()).ok()?;
        let (bn, bd) = if e >= 0 {
            (*base.numer(), *base.denom())
        } else {
            (*base.denom(), *base.numer())
        };
        // checked_pow squares, so 1^2000000000 is as quick as 2^3.
        let numer = bn.checked_pow(e32)?;
        let denom = bd.checked_pow(e32)?;
        Num::ratio(numer, denom)
    }
}

impl From<i64> for Num {
    fn from(n: i64) -> Num {
        Num::int(n)
    }
}

impl From<f64> for Num {
    fn from(f: f64) -> Num {
        Num::Float(f)
    }
}

// Equality and hashing are structural: 1/2 and 0.5 are different constants,
// so the graph never merges an exact constant with an approximate one.
impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        match (self, other) {
            (Num::Rational(a), Num::Rational(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Num {}

impl Hash for Num {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Num::Rational(r) => {
                0u8.hash(state);
                r.numer().hash(state);
                r.denom().hash(state);
            }
            Num::Float(f) => {
                1u8.hash(state);
                f.to_bits().hash(state);
            }
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Rational(a), Num::Rational(b)) => Some(a.cmp(b)),
            _ => self.to_f64().partial_cmp(&other.to_f64()),
        }
    }
}

impl fmt::Display for Num {
    /// Integers print bare (`2`), other rationals as `p/q`, floats with Rust's
    /// shortest round-trip form (always with a `.` or exponent so they read back
    /// as floats).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Rational(r) if r.is_integer() => write!(f, "{}", r.numer()),
            Num::Rational(r) => write!(f, "{}/{}", r.numer(), r.denom()),
            Num::Float(x) => write!(f, "{x:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Num::parse_decimal("2"), Some(Num::int(2)));
        assert_eq!(Num::parse_decimal("3.5"), Num::ratio(7, 2));
        assert_eq!(Num::parse_decimal("1e-3"), Num::ratio(1, 1000));
        assert_eq!(Num::parse_decimal(".25"), Num::ratio(1, 4));
        assert_eq!(Num::parse_decimal("1.5e2"), Some(Num::int(150)));
        assert_eq!(Num::parse_decimal("1e400"), Some(Num::Float(f64::INFINITY)));
        assert_eq!(Num::parse_decimal("."), None);
    }

    #[test]
    fn arithmetic_stays_exact_until_overflow() {
        let half = Num::ratio(1, 2).unwrap();
        assert_eq!(half.add(half), Num::int(1));
        assert_eq!(
            Num::int(i64::MAX).add(Num::int(1)).to_f64(),
            9.223_372_036_854_776e18
        );
        assert!(!Num::int(i64::MAX).add(Num::int(1)).is_exact());
        assert_eq!(Num::int(2).pow_exact(Num::int(-2)), Num::ratio(1, 4));
        assert_eq!(Num::int(0).pow_exact(Num::int(-1)), None);
        assert_eq!(Num::int(3).div(Num::int(0)), None);
    }

    #[test]
    fn display_reads_back() {
        assert_eq!(Num::ratio(-1, 2).unwrap().to_string(), "-1/2");
        assert_eq!(Num::Float(0.1).to_string(), "0.1");
        assert_eq!(Num::Float(2.0).to_string(), "2.0");
    }
}
