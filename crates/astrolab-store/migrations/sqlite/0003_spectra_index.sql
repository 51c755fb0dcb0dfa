-- The spectral store's index (issue 3): one row per columnar spectra file
-- and one per spectrum, so a TARGETID finds its file and row without
-- opening any file.
CREATE TABLE spectra_files (
    spectra_file_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    survey TEXT NOT NULL,
    program TEXT NOT NULL,
    healpix INTEGER NOT NULL,
    n_spectra INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    sources TEXT NOT NULL,
    built_at TEXT NOT NULL,
    software_version TEXT NOT NULL
);
CREATE TABLE spectra_index (
    target_id INTEGER NOT NULL,
    spectra_file_id INTEGER NOT NULL,
    row_index INTEGER NOT NULL,
    z REAL
);
CREATE INDEX spectra_index_target ON spectra_index (target_id);
CREATE INDEX spectra_index_file ON spectra_index (spectra_file_id);
