//! Velocities: observed frequency -> radio velocity -> v_LSR.
//!
//! The LSR correction of an observation is the observer's velocity relative
//! to the LSR projected on the line of sight:
//! - Earth's barycentric velocity from ERFA's `epv00` (the `erfa` crate, a
//!   pure-Rust port of ERFA);
//! - Earth rotation at the site: the geodetic site (WGS84) rotated into the
//!   GCRS with the IAU 2006/2000A precession-nutation and Greenwich apparent
//!   sidereal time (UT1 taken as UTC: < 1 s, < 0.4 m/s);
//! - the solar motion: kinematic LSR, 20 km/s toward RA 18h Dec +30 (B1900)
//!   precessed to J2000 (IAU 1976), as astropy's `LSRK`; or the dynamical LSR
//!   of Schoenrich, Binney & Dehnen (2010), (U, V, W) = (11.1, 12.24, 7.25)
//!   km/s, as astropy's `LSR`.
//!
//! v_LSR = v_topocentric + correction, where v_topocentric is the radio
//! velocity c (1 - f / f0) of the observed (sky) frequency.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use astrolab_sky::galactic::icrs_to_galactic_matrix;

/// Speed of light, km/s.
pub const C_KM_S: f64 = 299_792.458;
/// HI hyperfine rest frequency, Hz.
pub const HI_REST_FREQ_HZ: f64 = 1_420_405_751.768;

const AU_KM: f64 = 149_597_870.7;
const DAY_S: f64 = 86_400.0;
/// Earth's rotation rate (rad/s, ERFA `OM` = 1.00273781191135448 turns per UT1 day).
const EARTH_OMEGA_RAD_S: f64 = 1.002_737_811_911_354_5 * std::f64::consts::TAU / DAY_S;

/// Errors of velocity computations.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum VelocityError {
    /// A time that cannot be parsed or is outside the supported range.
    #[error("time '{text}': {message}")]
    BadTime { text: String, message: String },
    /// A site or position that is not finite or out of range.
    #[error("{what} = {value} is not a valid value")]
    BadInput { what: &'static str, value: f64 },
}

/// An observing site (geodetic, WGS84).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub lat_deg: f64,
    /// East positive.
    pub lon_deg: f64,
    pub height_m: f64,
}

impl Site {
    /// The Green Bank Telescope.
    pub const GBT: Site = Site {
        lat_deg: 38.43312,
        lon_deg: -79.83983,
        height_m: 824.595,
    };
    /// Onsala Space Observatory (SALSA).
    pub const ONSALA: Site = Site {
        lat_deg: 57.3930,
        lon_deg: 11.9177,
        height_m: 20.0,
    };
}

/// The solar motion relative to the LSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LsrDefinition {
    /// Kinematic LSR (Gordon 1975): 20 km/s toward RA 18h Dec +30 (B1900);
    /// the radio-astronomy standard, astropy's `LSRK`.
    #[default]
    Kinematic,
    /// Schoenrich, Binney & Dehnen (2010), astropy's `LSR`.
    Schoenrich2010,
}

/// A UTC instant as a two-part Julian date (`jd1 + jd2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtcTime {
    pub jd1: f64,
    pub jd2: f64,
}

/// TAI - UTC (s) from each MJD on (IERS Bulletin C), since 1972.
const LEAP_SECONDS: &[(f64, f64)] = &[
    (41317.0, 10.0),
    (41499.0, 11.0),
    (41683.0, 12.0),
    (42048.0, 13.0),
    (42413.0, 14.0),
    (42778.0, 15.0),
    (43144.0, 16.0),
    (43509.0, 17.0),
    (43874.0, 18.0),
    (44239.0, 19.0),
    (44786.0, 20.0),
    (45151.0, 21.0),
    (45516.0, 22.0),
    (46247.0, 23.0),
    (47161.0, 24.0),
    (47892.0, 25.0),
    (48257.0, 26.0),
    (48804.0, 27.0),
    (49169.0, 28.0),
    (49534.0, 29.0),
    (50083.0, 30.0),
    (50630.0, 31.0),
    (51179.0, 32.0),
    (53736.0, 33.0),
    (54832.0, 34.0),
    (56109.0, 35.0),
    (57204.0, 36.0),
    (57754.0, 37.0),
];

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl UtcTime {
    /// From seconds since 1970-01-01T00:00:00 UTC (POSIX time, leap seconds
    /// not counted, as in SigMF and file times).
    pub fn from_unix_seconds(t: f64) -> UtcTime {
        let days = (t / DAY_S).floor();
        UtcTime {
            jd1: 2_440_587.5 + days,
            jd2: (t - days * DAY_S) / DAY_S,
        }
    }

    /// Parses ISO 8601 `YYYY-MM-DDThh:mm:ss[.fff][Z]` (also with a space or
    /// `_` instead of `T`, or a date alone).
    pub fn parse_iso(text: &str) -> Result<UtcTime, VelocityError> {
        let bad = |message: &str| VelocityError::BadTime {
            text: text.to_string(),
            message: message.to_string(),
        };
        let s = text.trim().trim_end_matches('Z');
        let (date, clock) = match s.find(['T', ' ', '_']) {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, "00:00:00"),
        };
        let d: Vec<&str> = date.split('-').collect();
        let c: Vec<&str> = clock.split(':').collect();
        if d.len() != 3 || c.len() != 3 {
            return Err(bad("expected YYYY-MM-DDThh:mm:ss"));
        }
        let int = |x: &str| {
            x.parse::<i64>()
                .map_err(|_| bad("a date or time field is not a number"))
        };
        let (y, mo, da) = (int(d[0])?, int(d[1])?, int(d[2])?);
        let (h, mi) = (int(c[0])?, int(c[1])?);
        let sec: f64 = c[2]
            .parse()
            .map_err(|_| bad("the seconds are not a number"))?;
        if !(1..=12).contains(&mo)
            || !(1..=31).contains(&da)
            || !(0..=23).contains(&h)
            || !(0..=59).contains(&mi)
            || !(0.0..61.0).contains(&sec)
        {
            return Err(bad("a field is out of range"));
        }
        let days = days_from_civil(y, mo, da) as f64;
        Ok(UtcTime {
            jd1: 2_440_587.5 + days,
            jd2: (h as f64 * 3600.0 + mi as f64 * 60.0 + sec) / DAY_S,
        })
    }

    /// Modified Julian date.
    pub fn mjd(&self) -> f64 {
        (self.jd1 - 2_400_000.5) + self.jd2
    }

    /// TT as a two-part Julian date (UTC + TAI-UTC + 32.184 s).
    pub fn tt(&self) -> Result<(f64, f64), VelocityError> {
        let mjd = self.mjd();
        let dat = LEAP_SECONDS
            .iter()
            .rev()
            .find(|(start, _)| mjd >= *start)
            .map(|(_, s)| *s)
            .ok_or_else(|| VelocityError::BadTime {
                text: format!("MJD {mjd}"),
                message: "before 1972: leap seconds not tabulated".into(),
            })?;
        Ok((self.jd1, self.jd2 + (dat + 32.184) / DAY_S))
    }
}

/// Radio-convention velocity (km/s) of sky frequency `freq_hz` for a line
/// at `rest_hz`: c (1 - f / f0).
pub fn radio_velocity_km_s(freq_hz: f64, rest_hz: f64) -> f64 {
    C_KM_S * (1.0 - freq_hz / rest_hz)
}

/// The frequency (Hz) of radio velocity `v_km_s`.
pub fn radio_velocity_to_freq_hz(v_km_s: f64, rest_hz: f64) -> f64 {
    rest_hz * (1.0 - v_km_s / C_KM_S)
}

fn unit_vector(ra_deg: f64, dec_deg: f64) -> [f64; 3] {
    let (ra, dec) = (ra_deg.to_radians(), dec_deg.to_radians());
    [dec.cos() * ra.cos(), dec.cos() * ra.sin(), dec.sin()]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The observer's velocity relative to the solar-system barycentre (km/s,
/// ICRS axes): Earth's orbital velocity (epv00) plus the site's rotation.
pub fn observer_barycentric_velocity_km_s(
    utc: UtcTime,
    site: Site,
) -> Result<[f64; 3], VelocityError> {
    for (what, value) in [
        ("site latitude (deg)", site.lat_deg),
        ("site longitude (deg)", site.lon_deg),
        ("site height (m)", site.height_m),
    ] {
        if !value.is_finite() {
            return Err(VelocityError::BadInput { what, value });
        }
    }
    if site.lat_deg.abs() > 90.0 {
        return Err(VelocityError::BadInput {
            what: "site latitude (deg)",
            value: site.lat_deg,
        });
    }
    let (tt1, tt2) = utc.tt()?;
    // TDB - TT < 2 ms: negligible for velocities.
    let (_, _, pvb) = erfa::earth::position_velocity_00(tt1, tt2);
    let v_earth = pvb[1].map(|v| v * AU_KM / DAY_S);

    let r_itrs = erfa::transform::geodetic_to_geocentric(
        erfa::Ellipsoid::WGS84,
        site.lon_deg.to_radians(),
        site.lat_deg.to_radians(),
        site.height_m,
    )
    .map_err(|_| VelocityError::BadInput {
        what: "site height (m)",
        value: site.height_m,
    })?;
    // Terrestrial -> true equator and equinox of date: rotate by +GAST.
    let gast = erfa::time::gst06a(utc.jd1, utc.jd2, tt1, tt2);
    let (s, c) = gast.sin_cos();
    let r_tod = [
        c * r_itrs[0] - s * r_itrs[1],
        s * r_itrs[0] + c * r_itrs[1],
        r_itrs[2],
    ];
    // v = omega z x r, in km/s.
    let v_tod = [
        -EARTH_OMEGA_RAD_S * r_tod[1] / 1000.0,
        EARTH_OMEGA_RAD_S * r_tod[0] / 1000.0,
        0.0,
    ];
    // True of date -> GCRS: the transpose of the bias-precession-nutation matrix.
    let npb = erfa::prenut::pn_matrix_06a(tt1, tt2);
    let mut v_gcrs = [0.0; 3];
    for (i, out) in v_gcrs.iter_mut().enumerate() {
        *out = (0..3).map(|k| npb[k][i] * v_tod[k]).sum();
    }
    Ok([
        v_earth[0] + v_gcrs[0],
        v_earth[1] + v_gcrs[1],
        v_earth[2] + v_gcrs[2],
    ])
}

/// IAU 1976 (Lieske) precession of (RA, Dec) in degrees from Julian date
/// `jd_from` to `jd_to` (mean equator and equinox).
pub fn precess_iau1976(ra_deg: f64, dec_deg: f64, jd_from: f64, jd_to: f64) -> (f64, f64) {
    let big_t = (jd_from - 2_451_545.0) / 36_525.0;
    let t = (jd_to - jd_from) / 36_525.0;
    let as2r = |a: f64| (a / 3600.0).to_radians();
    let w = 2306.2181 + (1.39656 - 0.000139 * big_t) * big_t;
    let zeta = as2r((w + ((0.30188 - 0.000344 * big_t) + 0.017998 * t) * t) * t);
    let z = as2r((w + ((1.09468 + 0.000066 * big_t) + 0.018203 * t) * t) * t);
    let theta = as2r(
        ((2004.3109 + (-0.85330 - 0.000217 * big_t) * big_t)
            + ((-0.42665 - 0.000217 * big_t) - 0.041833 * t) * t)
            * t,
    );
    let (ra0, dec0) = (ra_deg.to_radians(), dec_deg.to_radians());
    let a = dec0.cos() * (ra0 + zeta).sin();
    let b = theta.cos() * dec0.cos() * (ra0 + zeta).cos() - theta.sin() * dec0.sin();
    let cc = theta.sin() * dec0.cos() * (ra0 + zeta).cos() + theta.cos() * dec0.sin();
    let ra = (a.atan2(b) + z).to_degrees().rem_euclid(360.0);
    (ra, cc.clamp(-1.0, 1.0).asin().to_degrees())
}

/// Julian date of the Besselian epoch B1900.0.
const JD_B1900: f64 = 2_415_020.313_52;

/// The barycentre's velocity relative to the LSR (km/s, ICRS axes).
pub fn solar_motion_icrs_km_s(def: LsrDefinition) -> [f64; 3] {
    match def {
        LsrDefinition::Kinematic => {
            let (ra, dec) = precess_iau1976(270.0, 30.0, JD_B1900, 2_451_545.0);
            unit_vector(ra, dec).map(|x| 20.0 * x)
        }
        LsrDefinition::Schoenrich2010 => {
            let uvw = [11.1, 12.24, 7.25];
            // Galactic = M icrs, so icrs = M^T galactic.
            let m = icrs_to_galactic_matrix();
            let mut v = [0.0; 3];
            for (i, out) in v.iter_mut().enumerate() {
                *out = (0..3).map(|k| m[k][i] * uvw[k]).sum();
            }
            v
        }
    }
}

/// The correction to the barycentric frame only (km/s):
/// v_barycentric = v_topocentric + this.
pub fn barycentric_correction_km_s(
    utc: UtcTime,
    site: Site,
    ra_deg: f64,
    dec_deg: f64,
) -> Result<f64, VelocityError> {
    check_pointing(ra_deg, dec_deg)?;
    let v = observer_barycentric_velocity_km_s(utc, site)?;
    Ok(dot(v, unit_vector(ra_deg, dec_deg)))
}

fn check_pointing(ra_deg: f64, dec_deg: f64) -> Result<(), VelocityError> {
    if !ra_deg.is_finite() {
        return Err(VelocityError::BadInput {
            what: "right ascension (deg)",
            value: ra_deg,
        });
    }
    if !dec_deg.is_finite() || dec_deg.abs() > 90.0 {
        return Err(VelocityError::BadInput {
            what: "declination (deg)",
            value: dec_deg,
        });
    }
    Ok(())
}

/// The LSR correction (km/s) for an observation at `utc` from `site` toward
/// ICRS (`ra_deg`, `dec_deg`): v_LSR = v_topocentric + correction.
pub fn lsr_correction_km_s(
    utc: UtcTime,
    site: Site,
    ra_deg: f64,
    dec_deg: f64,
    def: LsrDefinition,
) -> Result<f64, VelocityError> {
    let bary = barycentric_correction_km_s(utc, site, ra_deg, dec_deg)?;
    Ok(bary + dot(solar_motion_icrs_km_s(def), unit_vector(ra_deg, dec_deg)))
}

/// The v_LSR axis (km/s) of channels at sky frequencies `freq_hz`.
pub fn v_lsr_axis_km_s(freq_hz: &[f64], rest_hz: f64, correction_km_s: f64) -> Vec<f64> {
    freq_hz
        .iter()
        .map(|&f| radio_velocity_km_s(f, rest_hz) + correction_km_s)
        .collect()
}

/// Galactic (l, b) in degrees of an ICRS pointing.
pub fn galactic_of(ra_deg: f64, dec_deg: f64) -> (f64, f64) {
    astrolab_sky::galactic::icrs_to_galactic(ra_deg, dec_deg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinematic_lsr_matches_astropy_lsrk_vector() {
        // astropy.coordinates.builtin_frames.lsr.V_OFFSET_LSRK (FK4 B1900 -> ICRS).
        let astropy = [0.28999706839034606, -17.317264789717928, 10.00141199546947];
        let v = solar_motion_icrs_km_s(LsrDefinition::Kinematic);
        for k in 0..3 {
            assert!((v[k] - astropy[k]).abs() < 2e-3, "{v:?} vs {astropy:?}");
        }
    }

    #[test]
    fn iso_times_parse() {
        let t = UtcTime::parse_iso("2000-01-01T12:00:00").unwrap();
        assert!((t.jd1 + t.jd2 - 2_451_545.0).abs() < 1e-9);
        let u = UtcTime::from_unix_seconds(946_728_000.0);
        assert!((u.jd1 + u.jd2 - 2_451_545.0).abs() < 1e-9);
        assert!(UtcTime::parse_iso("2021-13-01T00:00:00").is_err());
        assert!(UtcTime::parse_iso("yesterday").is_err());
    }

    #[test]
    fn radio_velocity_round_trip() {
        let f = radio_velocity_to_freq_hz(-42.0, HI_REST_FREQ_HZ);
        assert!((radio_velocity_km_s(f, HI_REST_FREQ_HZ) + 42.0).abs() < 1e-9);
    }

    #[test]
    fn nan_pointing_is_an_error() {
        let t = UtcTime::parse_iso("2021-02-10T07:38:37.5").unwrap();
        assert!(
            lsr_correction_km_s(t, Site::GBT, f64::NAN, 0.0, LsrDefinition::Kinematic).is_err()
        );
        assert!(lsr_correction_km_s(t, Site::GBT, 10.0, 95.0, LsrDefinition::Kinematic).is_err());
    }
}
