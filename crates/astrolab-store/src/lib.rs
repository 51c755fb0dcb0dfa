//! The astrolab store: catalog tables, the raw-file registry and spatial
//! queries over two backends with one schema.
//!
//! * SQLite (embedded, default): a file `astrolab.db` in the data home.
//! * PostgreSQL (`ASTROLAB_DATABASE_URL=postgres://...`), with q3c indexes
//!   when the extension is installed.
//!
//! Every sky table carries `hpx`, the nested HEALPix index at depth 29, so
//! cone searches work on both backends through index ranges
//! (astrolab_sky::cone_ranges); the exact angular distance decides.
//!
//! For `astrolab serve` the store also keeps accounts, API tokens and
//! sessions ([`User`], [`Store::create_user`]), datasets with their access
//! rules ([`Dataset`]), an append-only audit log ([`AuditEvent`]) and the
//! run queue that workers claim from ([`RunRecord`], [`Store::claim_run`]).
//!
//! ```no_run
//! use astrolab_store::{Store, StoreConfig, IngestOptions, Progress, ConeQuery};
//! let mut store = Store::open(&StoreConfig::sqlite("astrolab-data"))?;
//! store.ingest_file("zpix-main-bright.fits".as_ref(), &IngestOptions::default(), &mut Progress::none())?;
//! let hits = store.cone(&ConeQuery { table: "zcatalog".into(), ra_deg: 180.0, dec_deg: 30.0,
//!     radius_deg: 1.0, filter: Some("zwarn = 0".into()), ..Default::default() })?;
//! # Ok::<(), astrolab_store::StoreError>(())
//! ```

mod accounts;
pub mod acting;
mod anomalies;
mod audit;
pub mod bal;
mod batch;
mod catalog_rows;
mod datasets;
mod error;
mod hline;
mod ingest;
mod membership_cache;
pub mod migrate;
pub mod pgpass;
mod poscache;
mod postgres;
pub mod qso_fits;
pub mod query;
mod registry;
mod runs;
pub mod schema;
mod spectra_index;
mod sqlite;
mod store;
pub mod testing;
mod tx;
mod value;
mod voids_membership;

pub use accounts::{ApiTokenInfo, NewApiToken, NewSession, NewUser, Role, SessionInfo, User};
pub use anomalies::{
    latent_text, AnomalyFilter, AnomalyLabel, AnomalyLabelRow, AnomalyModel, AnomalyScore,
    AnomalySkip, QUASAR_ANOMALIES,
};
pub use audit::{AuditEvent, AuditRecord};
pub use bal::{BalCatalogSummary, BalRecord};
pub use datasets::{Dataset, ReadRules, Visibility};
pub use error::{Result, StoreError};
pub use hline::{HlineRecording, HlineSpectrumRow, HLINE_FORMATS};
pub use ingest::{detect_format, expand_paths, Format, IngestOptions, IngestOutcome, Progress};
pub use qso_fits::{QsoFitCatalogSummary, QsoFitRecord};
pub use query::{ConeQuery, ResultTable};
pub use registry::{file_digest, now_rfc3339, RawFile};
pub use runs::{NewRun, QueueStats, RunAttempt, RunLogLine, RunRecord, RunState};
pub use spectra_index::{select_redrock, SpectraFileRecord, SpectrumLocation};
pub use store::{redact_url, Backend, Store, StoreConfig};
pub use value::Value;

/// The data dictionary: every table and column of the schema with its unit
/// and meaning (TOML). The guide's data-model page is generated from it
/// (`astrolab docs-reference`), which fails when it and the schema differ.
pub const DICTIONARY: &str = include_str!("dictionary.toml");
pub use voids_membership::{
    fresh_stage, MembershipKey, MembershipRows, MembershipSummary, SourceCount, StagedMembership,
    TargetPosition, VoidProperties, STAGE_PREFIX, UNKNOWN_GALAXY_SOURCE, VOID_MEMBERSHIP,
};
