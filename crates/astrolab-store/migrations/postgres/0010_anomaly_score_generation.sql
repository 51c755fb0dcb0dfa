-- astrolab schema v10 (postgres): a counter per anomaly model that every
-- write of its scores raises (in the same transaction), so a server that
-- keeps a model's latent vectors in memory for "spectra like this one"
-- knows with one indexed read whether they are still current. Keep in step
-- with the other backend's 0010_anomaly_score_generation.sql.
ALTER TABLE anomaly_models ADD COLUMN scores_generation BIGINT NOT NULL DEFAULT 0;
