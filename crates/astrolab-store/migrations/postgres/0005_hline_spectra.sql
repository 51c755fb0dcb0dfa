-- Integrated 21 cm spectra from SDR recordings (issue 5): one row per
-- integration, partitioned by month of start_time (declarative range
-- partitioning; the insert path creates each month's partition on demand).
-- file_id names the raw recording in raw_files. flags: n_channels bytes of
-- RFI flag bits (1 SK low, 2 SK high, 4 spike). Channel i is at
-- first_channel_freq_hz + i * channel_width_hz.
CREATE TABLE hline_spectra (
    file_id BIGINT NOT NULL,
    integration BIGINT NOT NULL,
    start_time TIMESTAMPTZ NOT NULL,
    n_frames BIGINT NOT NULL,
    integration_s DOUBLE PRECISION NOT NULL,
    n_channels BIGINT NOT NULL,
    center_freq_hz DOUBLE PRECISION NOT NULL,
    first_channel_freq_hz DOUBLE PRECISION NOT NULL,
    channel_width_hz DOUBLE PRECISION NOT NULL,
    ra_deg DOUBLE PRECISION, dec_deg DOUBLE PRECISION,
    az_deg DOUBLE PRECISION, el_deg DOUBLE PRECISION,
    n_flagged BIGINT NOT NULL,
    spectrum REAL[] NOT NULL,
    flags BYTEA NOT NULL,
    PRIMARY KEY (file_id, integration, start_time)
) PARTITION BY RANGE (start_time);
CREATE INDEX hline_spectra_time ON hline_spectra (start_time);
