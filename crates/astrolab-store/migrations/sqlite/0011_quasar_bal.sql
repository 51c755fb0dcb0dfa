-- astrolab schema v11 (sqlite): BAL measurements of quasars (issue 19). Keep
-- in step with the other backend's 0011_quasar_bal.sql and src/bal.rs.
--
-- One row per quasar and BAL catalog. catalog_id is "bal-" and 16 hex
-- digits of the SHA-256 of the continuum basis and the measurement
-- settings, so rows of one id are comparable; a run replaces its id's rows
-- whole. outcome: "measured", or why the quasar got no numbers (a skip
-- reason such as redshift_out_of_range or civ_not_covered: then every
-- index column is NULL). file_id: the raw file (coadd) of the spectrum;
-- every read filters on it like any other row. row_json: the whole row of
-- DESI's BAL catalog (Filbert et al. 2024) as a JSON object with its column
-- names (PCA_COEFFS, VMIN_CIV_450[17], ...); the scalar indices are also
-- columns here so that queries can select on them.
CREATE TABLE quasar_bal (
    catalog_id TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    file_id INTEGER,
    z REAL NOT NULL,
    outcome TEXT NOT NULL,
    balmask INTEGER NOT NULL,
    cont_fit TEXT,
    bi_civ REAL,
    err_bi_civ REAL,
    nciv_2000 INTEGER,
    ai_civ REAL,
    err_ai_civ REAL,
    nciv_450 INTEGER,
    bi_siiv REAL,
    err_bi_siiv REAL,
    nsiiv_2000 INTEGER,
    ai_siiv REAL,
    err_ai_siiv REAL,
    nsiiv_450 INTEGER,
    snr_civ REAL,
    pca_chi2 REAL,
    row_json TEXT NOT NULL
);
CREATE UNIQUE INDEX quasar_bal_key ON quasar_bal (catalog_id, target_id);
