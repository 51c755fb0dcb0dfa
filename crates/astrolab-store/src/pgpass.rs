//! PostgreSQL connection settings with libpq's password sources.
//!
//! The Rust client reads only the URL, but the lab keeps passwords out of
//! URLs, files in the repository and process lists: as libpq does, a URL
//! without a password takes it from `PGPASSWORD`, else from the password
//! file (`PGPASSFILE`, default `~/.pgpass`), whose lines are
//! `hostname:port:database:username:password` with `*` matching anything
//! and `\:` / `\\` escaping. A password file readable by group or others
//! is ignored with a warning, as libpq ignores it
//! (<https://www.postgresql.org/docs/current/libpq-pgpass.html>).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Result, StoreError};

/// The client configuration of `url`, with the password filled in from
/// `PGPASSWORD` or the password file when the URL has none.
pub fn pg_config(url: &str) -> Result<postgres::Config> {
    let mut cfg = postgres::Config::from_str(url).map_err(|e| {
        StoreError::bad_request(
            "database_url",
            format!(
                "{}: {e}; expected postgres://USER@HOST[:PORT]/DATABASE",
                crate::redact_url(url)
            ),
        )
    })?;
    if cfg.get_password().is_none() {
        if let Some(pw) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
            cfg.password(pw.to_string_lossy().as_bytes());
        } else if let Some(file) = passfile() {
            if let Some(pw) = lookup(&file, &cfg) {
                cfg.password(pw);
            }
        }
    }
    Ok(cfg)
}

fn passfile() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass"))
}

/// The password of the first line of `file` that matches the connection.
fn lookup(file: &Path, cfg: &postgres::Config) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file {} has group or world access; ignored (chmod 0600 it)",
                file.display()
            );
            return None;
        }
    }
    if !meta.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        // libpq matches a Unix-socket connection against "localhost".
        _ => "localhost".to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = cfg.get_user().unwrap_or("").to_string();
    let db = cfg.get_dbname().unwrap_or(&user).to_string();
    find(&text, &[&host, &port, &db, &user])
}

/// The first matching line's password (`wanted`: host, port, database, user).
fn find(text: &str, wanted: &[&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split(line);
        if fields.len() < 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(wanted)
            .all(|(f, w)| f == "*" || f == w)
        {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

/// Splits a password-file line at unescaped colons, undoing `\:` and `\\`.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            // The fifth field, the password, keeps its colons.
            ':' if out.len() < 4 => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.lab:5432:other:ada:wrong\n\
                    db.lab:*:astrolab:ada:s3cr\\:et:x\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            find(text, &["db.lab", "5432", "astrolab", "ada"]).as_deref(),
            Some("s3cr:et:x")
        );
        assert_eq!(
            find(text, &["db.lab", "5432", "other", "ada"]).as_deref(),
            Some("wrong")
        );
        assert_eq!(
            find(text, &["elsewhere", "6543", "x", "bob"]).as_deref(),
            Some("fallback")
        );
        assert_eq!(find("a:b:c:d\n", &["a", "b", "c", "d"]), None);
    }

    #[test]
    fn a_password_file_open_to_others_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(&f, "*:*:*:*:pw\n").unwrap();
        let cfg = postgres::Config::from_str("postgres://ada@db.lab/astrolab").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(&f, &cfg), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&f, &cfg).as_deref(), Some("pw"));
    }
}
