//! Brick sizes: the subset of Kubernetes quantities the API allows (`200Gi`, `1.5Ti`, `500G`,
//! `1073741824`), as bytes, and bytes shown back in binary units.

/// Bytes in one GiB.
pub const GIB: u64 = 1 << 30;

/// The bytes a quantity string stands for, rounded up to a whole byte.
pub fn parse_bytes(value: &str) -> Result<u64, String> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E)"
            ));
        }
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
        return Err("expected a number such as 200Gi or 1.5Ti".to_string());
    }
    if frac.len() > 18 {
        return Err("too many decimal places".to_string());
    }
    let whole: u128 = whole
        .parse()
        .map_err(|_| "the number is too large".to_string())?;
    let frac_digits = frac.len() as u32;
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse()
            .map_err(|_| "expected a number such as 200Gi or 1.5Ti".to_string())?
    };
    let scale = 10u128.pow(frac_digits);
    let too_large = || "the size is too large".to_string();
    let scaled = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(too_large)?;
    let bytes = scaled.div_ceil(scale);
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Bytes in the largest binary unit with at most one decimal, rounded down, e.g. `200Gi`,
/// `1.5Ti`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("Ei", 1 << 60),
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let tenths = u128::from(bytes) * 10 / u128::from(size);
            return if tenths % 10 == 0 {
                format!("{}{unit}", tenths / 10)
            } else {
                format!("{}.{}{unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_allowed_forms() {
        assert_eq!(parse_bytes("200Gi"), Ok(200 * GIB));
        assert_eq!(parse_bytes("1.5Ti"), Ok(1536 * GIB));
        assert_eq!(parse_bytes("500G"), Ok(500_000_000_000));
        assert_eq!(parse_bytes("1073741824"), Ok(GIB));
        assert_eq!(parse_bytes("1Ki"), Ok(1024));
        assert_eq!(parse_bytes("0.5Ki"), Ok(512));
    }

    #[test]
    fn refuses_the_rest() {
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("Gi").is_err());
        assert!(parse_bytes("10GB").is_err());
        assert!(parse_bytes("1.Gi").is_err());
        assert!(parse_bytes("1.2.3Gi").is_err());
        assert!(parse_bytes("-1Gi").is_err());
        assert!(parse_bytes("99999999999999999999Ei").is_err());
    }

    #[test]
    fn formats_binary_units() {
        assert_eq!(format_bytes(200 * GIB), "200Gi");
        assert_eq!(format_bytes(1536 * GIB), "1.5Ti");
        assert_eq!(format_bytes(800 * GIB), "800Gi");
        assert_eq!(format_bytes(100), "100");
    }
}
