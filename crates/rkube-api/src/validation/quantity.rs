//! Resource quantities (`500m`, `1Gi`, `1e3`): parsing, comparison and upstream's canonical
//! printing. Values are held exactly in nano-units, which covers every suffix upstream accepts
//! (`n` to `E`, `Ki` to `Ei`); smaller fractions round up to one nano-unit like upstream rounds up.

use std::cmp::Ordering;

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text does not have the quantity syntax.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Format,
    /// The number is too large to represent.
    #[error("quantity is too large")]
    TooLarge,
}

/// How a quantity was written, which decides how it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// `Ki`, `Mi`, ... suffixes.
    BinarySi,
    /// `m`, `k`, `M`, ... suffixes or none.
    DecimalSi,
    /// `1e3` style.
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value in units of 10^-9.
    pub nanos: i128,
    /// The format it was written in.
    pub format: QuantityFormat,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;

impl Quantity {
    /// Parses upstream's quantity syntax.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(QuantityError::Format);
        }
        let number_end = text
            .char_indices()
            .find(|(i, c)| {
                !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '+' || *c == '-')))
            })
            .map_or(text.len(), |(i, _)| i);
        let (number, suffix) = text.split_at(number_end);
        let (negative, digits) = match number.as_bytes().first() {
            Some(b'-') => (true, &number[1..]),
            Some(b'+') => (false, &number[1..]),
            _ => (false, number),
        };
        if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
            return Err(QuantityError::Format);
        }
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        let (format, scale) = parse_suffix(suffix)?;
        // value = int.frac * scale, where scale is (multiplier, power of ten).
        let mut mantissa: i128 = 0;
        for c in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(c - b'0')))
                .ok_or(QuantityError::TooLarge)?;
        }
        let frac_digits = i32::try_from(frac_part.len()).map_err(|_| QuantityError::TooLarge)?;
        let (multiplier, exp10) = scale;
        // nanos = mantissa * multiplier * 10^(exp10 + 9 - frac_digits)
        let mut value = mantissa
            .checked_mul(multiplier)
            .ok_or(QuantityError::TooLarge)?;
        let shift = exp10 + 9 - frac_digits;
        if shift >= 0 {
            for _ in 0..shift {
                value = value.checked_mul(10).ok_or(QuantityError::TooLarge)?;
            }
        } else {
            let divisor = 10i128
                .checked_pow(shift.unsigned_abs())
                .ok_or(QuantityError::TooLarge);
            value = match divisor {
                Ok(d) => value / d + i128::from(value % d != 0),
                Err(_) => i128::from(value != 0),
            };
        }
        Ok(Quantity {
            nanos: if negative { -value } else { value },
            format,
        })
    }

    /// The value in whole milli-units, rounded up (what `MilliValue` gives).
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded up (what `Value` gives).
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANOS_PER_UNIT)
    }

    /// Whether the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Upstream's canonical string, e.g. `1000m` → `1`, `1536Mi` stays `1536Mi`, `0.5` → `500m`.
    pub fn canonical(&self) -> String {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        if abs == 0 {
            return "0".to_string();
        }
        if self.format == QuantityFormat::BinarySi && abs.is_multiple_of(NANOS_PER_UNIT as u128) {
            let units = abs / NANOS_PER_UNIT as u128;
            if units >= 1024 {
                let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                let mut n = units;
                let mut i = 0;
                while i + 1 < suffixes.len() && n.is_multiple_of(1024) {
                    n /= 1024;
                    i += 1;
                }
                return format!("{sign}{n}{}", suffixes[i]);
            }
            if !units.is_multiple_of(1000) {
                return format!("{sign}{units}");
            }
        }
        let suffixes = [
            ("n", 0u32),
            ("u", 3),
            ("m", 6),
            ("", 9),
            ("k", 12),
            ("M", 15),
            ("G", 18),
            ("T", 21),
            ("P", 24),
            ("E", 27),
        ];
        let mut best = ("n", abs);
        for (suffix, exp) in suffixes {
            let divisor = 10u128.pow(exp);
            if abs.is_multiple_of(divisor) {
                best = (suffix, abs / divisor);
            }
        }
        if self.format == QuantityFormat::DecimalExponent {
            let exp = suffixes
                .iter()
                .find(|(s, _)| *s == best.0)
                .map_or(0, |(_, e)| i64::from(*e) - 9);
            if exp == 0 {
                return format!("{sign}{}", best.1);
            }
            return format!("{sign}{}e{exp}", best.1);
        }
        format!("{sign}{}{}", best.1, best.0)
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 { q + 1 } else { q }
}

/// The suffix's format and scale as (multiplier, power of ten).
fn parse_suffix(suffix: &str) -> Result<(QuantityFormat, (i128, i32)), QuantityError> {
    let binary = |p: u32| Ok((QuantityFormat::BinarySi, (1i128 << (10 * p), 0)));
    let decimal = |e: i32| Ok((QuantityFormat::DecimalSi, (1, e)));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let rest = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Format)?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(QuantityError::Format);
            }
            let exp: i32 = rest.parse().map_err(|_| QuantityError::TooLarge)?;
            if exp.abs() > 30 {
                return Err(QuantityError::TooLarge);
            }
            Ok((QuantityFormat::DecimalExponent, (1, exp)))
        }
    }
}

/// Parses a JSON quantity, which may be a string or a bare number.
pub fn parse_value(value: &serde_json::Value) -> Result<Quantity, QuantityError> {
    match value {
        serde_json::Value::String(s) => Quantity::parse(s),
        serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => Err(QuantityError::Format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or(Quantity {
            nanos: i128::MIN,
            format: QuantityFormat::DecimalSi,
        })
    }

    #[test]
    fn parses_and_compares() {
        assert_eq!(q("500m").milli_value(), 500);
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert!(q("1Gi") > q("1G"));
        assert!(q("100m") < q("1"));
        assert!(q("-1").is_negative());
        assert!(Quantity::parse("abc").is_err());
        assert!(Quantity::parse("1Xi").is_err());
        assert!(Quantity::parse("").is_err());
        assert!(Quantity::parse("1..2").is_err());
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(q("1000m").canonical(), "1");
        assert_eq!(q("0.5").canonical(), "500m");
        assert_eq!(q("1536Mi").canonical(), "1536Mi");
        assert_eq!(q("1024Mi").canonical(), "1Gi");
        assert_eq!(q("2").canonical(), "2");
        assert_eq!(q("128974848").canonical(), "128974848");
        assert_eq!(q("129e6").canonical(), "129e6");
        assert_eq!(q("0").canonical(), "0");
    }
}
