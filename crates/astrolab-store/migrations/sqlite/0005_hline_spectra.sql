-- Integrated 21 cm spectra from SDR recordings (issue 5): one row per
-- integration, time-indexed. file_id names the raw recording in raw_files.
-- spectrum: n_channels little-endian f32; flags: n_channels bytes of RFI
-- flag bits (1 SK low, 2 SK high, 4 spike). Channel i is at
-- first_channel_freq_hz + i * channel_width_hz.
CREATE TABLE hline_spectra (
    file_id INTEGER NOT NULL,
    integration INTEGER NOT NULL,
    start_time TEXT NOT NULL,
    start_unix_s REAL NOT NULL,
    n_frames INTEGER NOT NULL,
    integration_s REAL NOT NULL,
    n_channels INTEGER NOT NULL,
    center_freq_hz REAL NOT NULL,
    first_channel_freq_hz REAL NOT NULL,
    channel_width_hz REAL NOT NULL,
    ra_deg REAL, dec_deg REAL, az_deg REAL, el_deg REAL,
    n_flagged INTEGER NOT NULL,
    spectrum BLOB NOT NULL,
    flags BLOB NOT NULL,
    PRIMARY KEY (file_id, integration)
);
CREATE INDEX hline_spectra_time ON hline_spectra (start_unix_s);
