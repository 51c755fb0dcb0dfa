-- astrolab schema v1 (SQLite). Keep in step with postgres/0001_catalogs.sql and src/schema.rs.
-- file_id names the raw_files row a row came from; only the ingest code
-- writes these tables (no foreign key: a per-row check would slow COPY).
-- Every sky table carries hpx: the nested HEALPix index at depth 29 (see astrolab_sky::INDEX_DEPTH).
CREATE TABLE raw_files (
    file_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    hdus TEXT NOT NULL,
    rows_loaded INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    software_version TEXT NOT NULL,
    superseded INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
CREATE INDEX raw_files_sha256 ON raw_files (sha256);

CREATE TABLE zcatalog (
    file_id INTEGER NOT NULL,
    targetid INTEGER NOT NULL,
    survey TEXT, program TEXT, healpix INTEGER,
    ra REAL NOT NULL, dec REAL NOT NULL,
    z REAL, zerr REAL, zwarn INTEGER, chi2 REAL,
    spectype TEXT, subtype TEXT, deltachi2 REAL,
    coadd_fiberstatus INTEGER,
    desi_target INTEGER, bgs_target INTEGER, mws_target INTEGER, scnd_target INTEGER,
    zcat_primary INTEGER, zcat_nspec INTEGER, tsnr2_bgs REAL,
    hpx INTEGER NOT NULL
);
CREATE INDEX zcatalog_hpx ON zcatalog (hpx);
CREATE INDEX zcatalog_targetid ON zcatalog (targetid);

CREATE TABLE redshifts (
    file_id INTEGER NOT NULL,
    targetid INTEGER NOT NULL,
    ra REAL NOT NULL, dec REAL NOT NULL,
    z REAL, zerr REAL, zwarn INTEGER, chi2 REAL,
    spectype TEXT, subtype TEXT, deltachi2 REAL,
    coadd_fiberstatus INTEGER,
    hpx INTEGER NOT NULL
);
CREATE INDEX redshifts_hpx ON redshifts (hpx);
CREATE INDEX redshifts_targetid ON redshifts (targetid);

CREATE TABLE fastspec (
    file_id INTEGER NOT NULL,
    targetid INTEGER NOT NULL,
    survey TEXT, program TEXT, healpix INTEGER,
    ra REAL NOT NULL, dec REAL NOT NULL,
    z REAL, zwarn INTEGER, deltachi2 REAL, spectype TEXT,
    logmstar REAL, logmstar_ivar REAL, sfr REAL, sfr_ivar REAL,
    age REAL, zzsun REAL, dn4000 REAL, dn4000_ivar REAL,
    oiii_5007_flux REAL, oiii_5007_flux_ivar REAL,
    halpha_flux REAL, hbeta_flux REAL, nii_6584_flux REAL,
    hpx INTEGER NOT NULL
);
CREATE INDEX fastspec_hpx ON fastspec (hpx);
CREATE INDEX fastspec_targetid ON fastspec (targetid);
CREATE INDEX fastspec_logmstar ON fastspec (logmstar);

CREATE TABLE galaxies (
    file_id INTEGER NOT NULL,
    row_index INTEGER NOT NULL,
    targetid INTEGER,
    ra REAL NOT NULL, dec REAL NOT NULL,
    z REAL, weight REAL,
    hpx INTEGER NOT NULL
);
CREATE INDEX galaxies_hpx ON galaxies (hpx);

CREATE TABLE voidfinder_maximals (
    file_id INTEGER NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id INTEGER NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    radius_mpc_h REAL NOT NULL, r_mpc_h REAL,
    ra REAL NOT NULL, dec REAL NOT NULL, edge INTEGER,
    hpx INTEGER NOT NULL
);
CREATE INDEX voidfinder_maximals_hpx ON voidfinder_maximals (hpx);

CREATE TABLE voidfinder_holes (
    file_id INTEGER NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id INTEGER NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    radius_mpc_h REAL NOT NULL,
    ra REAL NOT NULL, dec REAL NOT NULL,
    hpx INTEGER NOT NULL
);
CREATE INDEX voidfinder_holes_hpx ON voidfinder_holes (hpx);

CREATE TABLE v2_voids (
    file_id INTEGER NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id INTEGER NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    redshift REAL, ra REAL NOT NULL, dec REAL NOT NULL,
    radius_mpc_h REAL NOT NULL,
    hpx INTEGER NOT NULL
);
CREATE INDEX v2_voids_hpx ON v2_voids (hpx);

CREATE TABLE v2_zonevoid (
    file_id INTEGER NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    zone INTEGER NOT NULL, void0 INTEGER NOT NULL, void1 INTEGER NOT NULL
);

CREATE TABLE v2_galzone (
    file_id INTEGER NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    gal INTEGER NOT NULL, targetid INTEGER,
    zone INTEGER NOT NULL, depth INTEGER, edge INTEGER, out_flag INTEGER
);
CREATE INDEX v2_galzone_targetid ON v2_galzone (targetid);
