//! Where files come from: an HTTPS mirror (the DESI data server) or the
//! public S3 bucket, read anonymously with plain GETs on its REST endpoint.

use std::fmt;

use crate::FetchError;

/// Default region of DESI's public bucket.
pub const DEFAULT_S3_REGION: &str = "us-west-2";

/// A release root: `{mirror}/spectro/redux/...` names a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// Base URL of the release, e.g. `https://data.desi.lbl.gov/public/dr1`
    /// (plain `http://` is accepted too, for local mirrors and tests).
    Https(String),
    /// Anonymous S3: `s3://BUCKET/PREFIX`, read through
    /// `https://BUCKET.s3.REGION.amazonaws.com/PREFIX/...`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix of the release root, without leading or trailing `/`.
        prefix: String,
        /// AWS region of the bucket.
        region: String,
    },
}

impl Mirror {
    /// Parses `https://...`, `http://...` or `s3://bucket/prefix` (the
    /// region applies to S3 only).
    pub fn parse(s: &str, s3_region: &str) -> Result<Self, FetchError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let rest = rest.trim_matches('/');
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(FetchError::Plan(format!(
                    "mirror '{s}' names no bucket (expected s3://BUCKET/PREFIX)"
                )));
            }
            Ok(Mirror::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                region: s3_region.to_string(),
            })
        } else if s.starts_with("https://") || s.starts_with("http://") {
            Ok(Mirror::Https(s.trim_end_matches('/').to_string()))
        } else {
            Err(FetchError::Plan(format!(
                "mirror '{s}' must start with https:// or s3://"
            )))
        }
    }

    /// Base URL of object GETs: virtual-hosted S3 by default, path-style
    /// under `endpoint` when one is given (S3-compatible stores, tests).
    fn s3_base(bucket: &str, region: &str, endpoint: Option<&str>) -> String {
        match endpoint {
            Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        }
    }

    /// URL of a release-relative path.
    pub(crate) fn url(&self, rel: &str, s3_endpoint: Option<&str>) -> String {
        match self {
            Mirror::Https(base) => format!("{base}/{rel}"),
            Mirror::S3 {
                bucket,
                prefix,
                region,
            } => {
                let base = Self::s3_base(bucket, region, s3_endpoint);
                format!("{base}/{}", encode_path(&join_key(prefix, rel)))
            }
        }
    }

    /// ListObjectsV2 URL for the keys under `key_prefix`, grouped by `/`.
    pub(crate) fn s3_list_url(
        bucket: &str,
        region: &str,
        endpoint: Option<&str>,
        key_prefix: &str,
        token: Option<&str>,
    ) -> String {
        let mut url = format!(
            "{}?list-type=2&delimiter=%2F&prefix={}",
            Self::s3_base(bucket, region, endpoint),
            encode_query(key_prefix)
        );
        if let Some(t) = token {
            url.push_str("&continuation-token=");
            url.push_str(&encode_query(t));
        }
        url
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Https(u) => f.write_str(u),
            Mirror::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// `prefix/rel`, or `rel` alone when the prefix is empty.
pub(crate) fn join_key(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes an object key for the URL path (keeps `/`).
fn encode_path(s: &str) -> String {
    encode(s, true)
}

/// Percent-encodes a query parameter value.
fn encode_query(s: &str) -> String {
    encode(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_builds_urls() {
        let m = Mirror::parse("s3://desiproto/dr1/", "us-west-2").unwrap();
        assert_eq!(
            m.url("spectro/x y.fits", None),
            "https://desiproto.s3.us-west-2.amazonaws.com/dr1/spectro/x%20y.fits"
        );
        assert_eq!(
            m.url("a.fits", Some("http://127.0.0.1:9/")),
            "http://127.0.0.1:9/desiproto/dr1/a.fits"
        );
        let h = Mirror::parse("https://data.desi.lbl.gov/public/dr1/", "").unwrap();
        assert_eq!(
            h.url("a/b", None),
            "https://data.desi.lbl.gov/public/dr1/a/b"
        );
        assert!(Mirror::parse("ftp://x", "").is_err());
        assert!(Mirror::parse("s3://", "").is_err());
        assert_eq!(
            Mirror::s3_list_url("b", "r", None, "dr1/a/", Some("t+1")),
            "https://b.s3.r.amazonaws.com?list-type=2&delimiter=%2F&prefix=dr1%2Fa%2F&continuation-token=t%2B1"
        );
    }
}
