-- astrolab schema v12 (postgres): quasar spectral fits (issue 20). Keep in step
-- with the other backend's 0012_quasar_fits.sql and src/qso_fits.rs.
--
-- quasar_fit_catalogs: one row per fit catalog. catalog_id is "qsofit-"
-- and 16 hex digits of the SHA-256 of config_json, the whole fit setting as
-- JSON: the line table (its TOML text), the Fe II templates (their text, so
-- the server redraws a model without the files), Balmer continuum on or
-- off, E(B-V), the outflow assumptions, Monte-Carlo samples and seed. Rows
-- of one id are comparable; a run replaces its id's rows whole.
CREATE TABLE quasar_fit_catalogs (
    catalog_id TEXT PRIMARY KEY,
    config_json TEXT NOT NULL,
    written_at TEXT NOT NULL
);
-- quasar_fits: one row per quasar and fit catalog. outcome: "fitted", or
-- why the quasar got no numbers (the fit's skip reason; then every number
-- is NULL). file_id: the raw file (coadd) of the spectrum; every read
-- filters on it like any other row. The scalar columns are a few of the
-- measurements, for queries; row_json holds them all (the FITS catalog's
-- columns: LOG_L5100, HB_BR_FWHM, OIII_W80, ... and their _ERR), with
-- null for a number the fit could not give.
CREATE TABLE quasar_fits (
    catalog_id TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    file_id BIGINT,
    z DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    sigma_inst DOUBLE PRECISION NOT NULL,
    oiii_wing BIGINT,
    oiii_wing_snr DOUBLE PRECISION,
    cont_rchi2 DOUBLE PRECISION,
    mc_samples BIGINT,
    log_l1350 DOUBLE PRECISION,
    log_l3000 DOUBLE PRECISION,
    log_l5100 DOUBLE PRECISION,
    oiii_v50 DOUBLE PRECISION,
    oiii_w80 DOUBLE PRECISION,
    oiii_dv DOUBLE PRECISION,
    log_mbh_hb DOUBLE PRECISION,
    log_mbh_mgii DOUBLE PRECISION,
    log_mbh_civ DOUBLE PRECISION,
    outflow_mdot DOUBLE PRECISION,
    row_json TEXT NOT NULL
);
CREATE UNIQUE INDEX quasar_fits_key ON quasar_fits (catalog_id, target_id);
