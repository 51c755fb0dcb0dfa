-- astrolab schema v1 (PostgreSQL). Keep in step with sqlite/0001_catalogs.sql and src/schema.rs.
-- file_id names the raw_files row a row came from; only the ingest code
-- writes these tables (no foreign key: a per-row check would slow COPY).
-- Every sky table carries hpx: the nested HEALPix index at depth 29 (see astrolab_sky::INDEX_DEPTH).
CREATE TABLE raw_files (
    file_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    hdus TEXT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    ingested_at TEXT NOT NULL,
    software_version TEXT NOT NULL,
    superseded BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (name, version)
);
CREATE INDEX raw_files_sha256 ON raw_files (sha256);

CREATE TABLE zcatalog (
    file_id BIGINT NOT NULL,
    targetid BIGINT NOT NULL,
    survey TEXT, program TEXT, healpix BIGINT,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    z DOUBLE PRECISION, zerr DOUBLE PRECISION, zwarn BIGINT, chi2 DOUBLE PRECISION,
    spectype TEXT, subtype TEXT, deltachi2 DOUBLE PRECISION,
    coadd_fiberstatus BIGINT,
    desi_target BIGINT, bgs_target BIGINT, mws_target BIGINT, scnd_target BIGINT,
    zcat_primary BOOLEAN, zcat_nspec BIGINT, tsnr2_bgs DOUBLE PRECISION,
    hpx BIGINT NOT NULL
);
CREATE INDEX zcatalog_hpx ON zcatalog (hpx);
CREATE INDEX zcatalog_targetid ON zcatalog (targetid);

CREATE TABLE redshifts (
    file_id BIGINT NOT NULL,
    targetid BIGINT NOT NULL,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    z DOUBLE PRECISION, zerr DOUBLE PRECISION, zwarn BIGINT, chi2 DOUBLE PRECISION,
    spectype TEXT, subtype TEXT, deltachi2 DOUBLE PRECISION,
    coadd_fiberstatus BIGINT,
    hpx BIGINT NOT NULL
);
CREATE INDEX redshifts_hpx ON redshifts (hpx);
CREATE INDEX redshifts_targetid ON redshifts (targetid);

CREATE TABLE fastspec (
    file_id BIGINT NOT NULL,
    targetid BIGINT NOT NULL,
    survey TEXT, program TEXT, healpix BIGINT,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    z DOUBLE PRECISION, zwarn BIGINT, deltachi2 DOUBLE PRECISION, spectype TEXT,
    logmstar DOUBLE PRECISION, logmstar_ivar DOUBLE PRECISION, sfr DOUBLE PRECISION, sfr_ivar DOUBLE PRECISION,
    age DOUBLE PRECISION, zzsun DOUBLE PRECISION, dn4000 DOUBLE PRECISION, dn4000_ivar DOUBLE PRECISION,
    oiii_5007_flux DOUBLE PRECISION, oiii_5007_flux_ivar DOUBLE PRECISION,
    halpha_flux DOUBLE PRECISION, hbeta_flux DOUBLE PRECISION, nii_6584_flux DOUBLE PRECISION,
    hpx BIGINT NOT NULL
);
CREATE INDEX fastspec_hpx ON fastspec (hpx);
CREATE INDEX fastspec_targetid ON fastspec (targetid);
CREATE INDEX fastspec_logmstar ON fastspec (logmstar);

CREATE TABLE galaxies (
    file_id BIGINT NOT NULL,
    row_index BIGINT NOT NULL,
    targetid BIGINT,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    z DOUBLE PRECISION, weight DOUBLE PRECISION,
    hpx BIGINT NOT NULL
);
CREATE INDEX galaxies_hpx ON galaxies (hpx);

CREATE TABLE voidfinder_maximals (
    file_id BIGINT NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id BIGINT NOT NULL,
    x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL, z DOUBLE PRECISION NOT NULL,
    radius_mpc_h DOUBLE PRECISION NOT NULL, r_mpc_h DOUBLE PRECISION,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL, edge BIGINT,
    hpx BIGINT NOT NULL
);
CREATE INDEX voidfinder_maximals_hpx ON voidfinder_maximals (hpx);

CREATE TABLE voidfinder_holes (
    file_id BIGINT NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id BIGINT NOT NULL,
    x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL, z DOUBLE PRECISION NOT NULL,
    radius_mpc_h DOUBLE PRECISION NOT NULL,
    ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    hpx BIGINT NOT NULL
);
CREATE INDEX voidfinder_holes_hpx ON voidfinder_holes (hpx);

CREATE TABLE v2_voids (
    file_id BIGINT NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    void_id BIGINT NOT NULL,
    x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL, z DOUBLE PRECISION NOT NULL,
    redshift DOUBLE PRECISION, ra DOUBLE PRECISION NOT NULL, dec DOUBLE PRECISION NOT NULL,
    radius_mpc_h DOUBLE PRECISION NOT NULL,
    hpx BIGINT NOT NULL
);
CREATE INDEX v2_voids_hpx ON v2_voids (hpx);

CREATE TABLE v2_zonevoid (
    file_id BIGINT NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    zone BIGINT NOT NULL, void0 BIGINT NOT NULL, void1 BIGINT NOT NULL
);

CREATE TABLE v2_galzone (
    file_id BIGINT NOT NULL,
    algorithm TEXT NOT NULL, cap TEXT NOT NULL,
    gal BIGINT NOT NULL, targetid BIGINT,
    zone BIGINT NOT NULL, depth BIGINT, edge BIGINT, out_flag BIGINT
);
CREATE INDEX v2_galzone_targetid ON v2_galzone (targetid);
