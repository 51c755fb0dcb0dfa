-- astrolab schema v9 (sqlite): anomalous quasars (issue 17). Keep in step
-- with the other backend's 0009_quasar_anomalies.sql and src/anomalies.rs.
--
-- anomaly_models: the model registry. model_id is "vae-" and the first 16
-- hex digits of the weights' SHA-256, so a model's id names its bytes.
-- config, calibration and manifest are JSON documents (the model's
-- architecture and rest-frame grid; the score normalisation and the
-- threshold with its target and measured false-positive rates; the
-- training run's RO-Crate). training_file_ids: JSON array of the raw
-- files whose spectra trained it (who may read the manifest follows it).
CREATE TABLE anomaly_models (
    model_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    latent_dim INTEGER NOT NULL,
    weights_sha256 TEXT NOT NULL,
    config TEXT NOT NULL,
    calibration TEXT NOT NULL,
    manifest TEXT,
    training_file_ids TEXT NOT NULL
);

-- One row per scored quasar and model. file_id: the raw file (coadd) of
-- the spectrum; every read filters on it like any other row (datasets).
-- latent_vec: the latent mean as a JSON array of floats, "[0.12,-1.5,...]"
-- (also pgvector's literal, for servers with that extension). rank: 1 =
-- most anomalous among the model's scored spectra.
CREATE TABLE quasar_anomalies (
    model_id TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    file_id INTEGER,
    z REAL NOT NULL,
    latent_vec TEXT NOT NULL,
    recon_chi2 REAL NOT NULL,
    iso_score REAL NOT NULL,
    anomaly_score REAL NOT NULL,
    rank INTEGER NOT NULL
);
CREATE UNIQUE INDEX quasar_anomalies_key ON quasar_anomalies (model_id, target_id);
CREATE INDEX quasar_anomalies_rank ON quasar_anomalies (model_id, rank);

-- Spectra a model could not score, with the reason (all pixels masked,
-- redshift outside the model's range, NaN...): counted, never scored.
CREATE TABLE anomaly_skips (
    model_id TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    file_id INTEGER,
    reason TEXT NOT NULL,
    PRIMARY KEY (model_id, target_id)
);

-- Labels from the validation page: one per user, spectrum and model (a
-- new label replaces the user's earlier one; the audit log keeps every
-- change).
CREATE TABLE anomaly_labels (
    model_id TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    username TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('anomaly', 'artefact', 'normal', 'unsure')),
    labelled_at TEXT NOT NULL,
    PRIMARY KEY (model_id, target_id, username)
);
