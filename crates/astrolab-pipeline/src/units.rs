//! Angles with units on the command line.

use anyhow::{bail, Result};

/// Parses "1deg", "30arcmin", "5arcsec", "2.5\"", "1'" or a bare number of
/// degrees into degrees.
pub fn parse_angle_deg(s: &str) -> Result<f64> {
    let t = s.trim().to_ascii_lowercase();
    let units: [(&str, f64); 9] = [
        ("arcsec", 1.0 / 3600.0),
        ("arcmin", 1.0 / 60.0),
        ("deg", 1.0),
        ("mas", 1.0 / 3.6e6),
        ("amin", 1.0 / 60.0),
        ("asec", 1.0 / 3600.0),
        ("\"", 1.0 / 3600.0),
        ("'", 1.0 / 60.0),
        ("d", 1.0),
    ];
    let (num, scale) = units
        .iter()
        .find_map(|(u, f)| t.strip_suffix(u).map(|n| (n.trim(), *f)))
        .unwrap_or((t.as_str(), 1.0));
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v * scale),
        _ => bail!("{s:?} is not an angle; write e.g. 1deg, 30arcmin or 1arcsec"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_angle_deg("1deg").unwrap(), 1.0);
        assert!((parse_angle_deg("1arcsec").unwrap() - 1.0 / 3600.0).abs() < 1e-18);
        assert!((parse_angle_deg("30 arcmin").unwrap() - 0.5).abs() < 1e-15);
        assert!((parse_angle_deg("2\"").unwrap() - 2.0 / 3600.0).abs() < 1e-18);
        assert_eq!(parse_angle_deg("0.25").unwrap(), 0.25);
        assert!(parse_angle_deg("abc").is_err());
        assert!(parse_angle_deg("1parsec").is_err());
    }
}
