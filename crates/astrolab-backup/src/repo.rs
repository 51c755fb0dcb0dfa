//! Where backups go: a directory (a disk, a mounted share) or an
//! S3-compatible bucket (the lab's off-site copies), as restic addresses
//! them.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// The environment variable with the S3 endpoint when the settings give none.
pub const S3_ENDPOINT_ENV: &str = "ASTROLAB_BACKUP_S3_ENDPOINT";

/// A backup repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// A directory; restic's repository is its `restic/` folder.
    Dir(PathBuf),
    /// `s3://BUCKET/PREFIX` at an endpoint (`https://s3.amazonaws.com`,
    /// a MinIO or Ceph gateway, a loopback test server). Credentials come
    /// from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, as for restic.
    S3 {
        /// Endpoint URL.
        endpoint: String,
        /// Bucket.
        bucket: String,
        /// Prefix inside the bucket ("" for none).
        prefix: String,
        /// A certificate authority to trust for the endpoint's TLS
        /// certificate (a private object store), `[backup] s3_ca_file`.
        ca_file: Option<PathBuf>,
        /// The bucket's region (`[backup] s3_region`; default us-east-1).
        region: Option<String>,
    },
}

impl Repository {
    /// Parses `DIR` or `s3://BUCKET[/PREFIX]`; `endpoint` (else
    /// `ASTROLAB_BACKUP_S3_ENDPOINT`, else AWS) is where S3 lives.
    pub fn parse(s: &str, endpoint: Option<&str>) -> Result<Repository> {
        if s.is_empty() {
            bail!("no backup repository: give --to/--from DIR or s3://BUCKET/PREFIX, or set [backup] repository in astrolab.toml");
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("{s}: no bucket; write s3://BUCKET/PREFIX");
            }
            let endpoint = endpoint
                .map(str::to_string)
                .or_else(|| {
                    std::env::var(S3_ENDPOINT_ENV)
                        .ok()
                        .filter(|e| !e.is_empty())
                })
                .unwrap_or_else(|| "https://s3.amazonaws.com".to_string());
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                bail!("S3 endpoint {endpoint:?}: give a URL (https://HOST[:PORT])");
            }
            return Ok(Repository::S3 {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                ca_file: None,
                region: None,
            });
        }
        if s.contains("://") {
            bail!("{s}: only directories and s3:// repositories are supported");
        }
        Ok(Repository::Dir(PathBuf::from(s)))
    }

    /// The same repository with a certificate authority and a region for
    /// an object store (nothing changes for a directory).
    pub fn with_s3_options(mut self, ca: Option<PathBuf>, reg: Option<String>) -> Repository {
        if let Repository::S3 {
            ca_file, region, ..
        } = &mut self
        {
            *ca_file = ca;
            *region = reg;
        }
        self
    }

    /// restic's name for the repository.
    pub fn restic_url(&self) -> String {
        match self {
            Repository::Dir(d) => d.join("restic").display().to_string(),
            Repository::S3 {
                endpoint,
                bucket,
                prefix,
                ..
            } => {
                let mut u = format!("s3:{endpoint}/{bucket}");
                if !prefix.is_empty() {
                    u.push('/');
                    u.push_str(prefix);
                }
                u.push_str("/restic");
                u
            }
        }
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Repository::Dir(d) => write!(f, "{}", d.display()),
            Repository::S3 {
                endpoint,
                bucket,
                prefix,
                ..
            } => write!(f, "s3://{bucket}/{prefix} at {endpoint}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directories_and_buckets() {
        assert_eq!(
            Repository::parse("/backups", None).unwrap().restic_url(),
            "/backups/restic"
        );
        let r = Repository::parse("s3://lab-backups/astrolab/", Some("http://127.0.0.1:9000/"))
            .unwrap();
        assert_eq!(
            r.restic_url(),
            "s3:http://127.0.0.1:9000/lab-backups/astrolab/restic"
        );
        assert_eq!(
            r.to_string(),
            "s3://lab-backups/astrolab at http://127.0.0.1:9000"
        );
        assert!(Repository::parse("s3:///x", None).is_err());
        assert!(Repository::parse("sftp://host/x", None).is_err());
        assert!(Repository::parse("", None).is_err());
        assert!(Repository::parse("s3://b", Some("ftp://x")).is_err());
    }
}
