//! Verified backups of an astrolab data home (issue 21), built on the
//! field's engines rather than our own: SQLite's online backup API for a
//! consistent copy of the embedded database while it is in use, and
//! restic (encrypted, deduplicated, content-addressed; a directory or any
//! S3-compatible object store) for that copy and every file of the home.
//!
//! A backup is one restic snapshot holding the home's files, the database
//! copy and a [`manifest::Manifest`]: every table's row count and content
//! hash, taken from the copy itself, so the manifest describes exactly the
//! bytes backed up. restic writes a snapshot only once all its data is
//! stored, so a backup killed half way is never listed as good.
//! [`ops::verify`] is a real restore into a scratch directory, every table
//! recounted and rehashed against the manifest, then `restic check
//! --read-data-subset`. Nothing leaves the machine unencrypted: the key
//! comes only from the environment ([`key::BackupKey`]).

pub mod digest;
pub mod key;
pub mod manifest;
pub mod ops;
pub mod pg;
pub mod repo;
pub mod restic;
pub mod sqlite;
pub mod status;

pub use key::BackupKey;
pub use manifest::{Manifest, PgPart, TableDigest};
pub use ops::{BackupSettings, Keep};
pub use repo::Repository;
