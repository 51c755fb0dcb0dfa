-- The spectral store's index (issue 3): one row per columnar spectra file
-- and one per spectrum, so a TARGETID finds its file and row without
-- opening any file.
CREATE TABLE spectra_files (
    spectra_file_id BIGSERIAL PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    survey TEXT NOT NULL,
    program TEXT NOT NULL,
    healpix BIGINT NOT NULL,
    n_spectra BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sources TEXT NOT NULL,
    built_at TEXT NOT NULL,
    software_version TEXT NOT NULL
);
CREATE TABLE spectra_index (
    target_id BIGINT NOT NULL,
    spectra_file_id BIGINT NOT NULL,
    row_index BIGINT NOT NULL,
    z DOUBLE PRECISION
);
CREATE INDEX spectra_index_target ON spectra_index (target_id);
CREATE INDEX spectra_index_file ON spectra_index (spectra_file_id);
