//! The parameter structs of the pipelines (moved here from the CLI so the
//! server, the Python package and a cluster use the same declarations).
//! Each derives clap's `Args` (the flags and their defaults) and serde's
//! `Serialize` (the resolved parameters of a run); value enums serialise
//! to the names clap accepts.

use std::path::PathBuf;

use astrolab_formats::iq::{
    IqDatatype, PhysicalRange, CENTER_FREQ_RANGE, INTEGRATION_RANGE, SAMPLE_RATE_RANGE,
};
use astrolab_voids::membership::EDGE_BUFFER_MPC_H;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

#[derive(Debug, Args, Serialize, Deserialize)]
pub struct DemoDataArgs {
    /// Output directory (created if missing).
    pub dir: PathBuf,
    /// Random seed (same seed, same bytes).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of galaxies.
    #[arg(long, default_value_t = 20_000)]
    pub galaxies: usize,
    /// Do not write coadd and redrock spectra files.
    #[arg(long)]
    pub no_spectra: bool,
    /// Directory with the DESI redrock QSO templates
    /// (rrtemplate-QSO-{LOZ,HIZ}-v1.1.fits); default
    /// $ASTROLAB_SHARED_DATA/templates or ../shared/data/templates when
    /// present, else a power-law quasar model.
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Write the labelled anomaly benchmark instead of the demo sky: this
    /// many DESI-like quasars (z 0.5-3.5, redrock templates, DESI noise,
    /// masks and sky residuals) with injected rarities in ten kinds of six
    /// classes, as coadd + redrock files and spectra_truth.json (--galaxies
    /// is then ignored: the benchmark sky is sized by its quasars).
    #[arg(long, value_name = "N_QUASARS")]
    #[serde(default)]
    pub anomaly_benchmark: Option<usize>,
    /// With --anomaly-benchmark: the fraction of quasars given a rarity
    /// (default 0.015).
    #[arg(long)]
    pub rarity_fraction: Option<f64>,
}

#[derive(Debug, Args, Serialize, Deserialize)]
pub struct IngestArgs {
    /// Files or directories (searched recursively for .fits and .csv).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Register a different file under an already registered name as a new
    /// version (its rows replace the old version's).
    #[arg(long)]
    pub new_version: bool,
    /// Print the outcome as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Serialize, Deserialize)]
pub struct SpectraBuildArgs {
    /// Directory searched recursively for coadd-*.fits (redrock-*.fits next
    /// to each coadd gives Z, SPECTYPE, ZWARN).
    #[arg(long)]
    pub from: PathBuf,
    /// Which spectra to keep, in the --where language over redrock columns,
    /// e.g. "spectype = 'QSO' AND zwarn = 0".
    #[arg(long)]
    pub select: Option<String>,
    /// Only coadds of this survey (main, sv3, ...).
    #[arg(long)]
    pub survey: Option<String>,
    /// Only coadds of this program (dark, bright, ...).
    #[arg(long)]
    pub program: Option<String>,
    /// Where the spectra files go (default HOME/spectra).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also keep the spectra of negative TARGETIDs: fibres on no target
    /// (sky and unassigned fibres), left out and counted by default.
    #[arg(long)]
    pub keep_negative_targetids: bool,
}

#[derive(Debug, Args, Serialize, Deserialize)]
pub struct ConeArgs {
    /// Centre right ascension, degrees [0, 360].
    #[arg(long, allow_negative_numbers = true)]
    pub ra: f64,
    /// Centre declination, degrees [-90, 90].
    #[arg(long, allow_negative_numbers = true)]
    pub dec: f64,
    /// Radius with unit: 1deg, 30arcmin, 5arcsec (a bare number is degrees).
    #[arg(long)]
    pub radius: String,
    /// Sky table to search. Without it: zcatalog, unless zcatalog is empty
    /// and exactly one other sky table holds rows (e.g. galaxies after
    /// ingesting a galaxy list), which is then searched and named on
    /// stderr.
    #[arg(long)]
    pub table: Option<String>,
    /// Filter on the table's columns, e.g. "zwarn = 0 AND spectype = 'QSO'"
    /// or "bgs_target & 2" (values are bound as parameters).
    #[arg(long = "where", id = "where")]
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// At most this many rows (nearest first).
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    #[serde(flatten)]
    pub out: OutputArgs,
}

/// Result output options.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write to this file instead of stdout (required for fits).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Aligned text table.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// JSON array of objects.
    Json,
    /// FITS binary table (needs --output).
    Fits,
}

/// Arguments of `voids find`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct FindArgs {
    /// Galaxy catalog: FITS or CSV table with ra, dec and z (or redshift)
    /// columns; with --box-size, a whitespace "x y z" text file (Mpc/h).
    #[arg(required_unless_present = "table")]
    pub catalog: Option<PathBuf>,
    /// Read the galaxies from this store table instead (fastspec, zcatalog
    /// or galaxies).
    #[arg(long, conflicts_with = "catalog")]
    pub table: Option<String>,
    /// Matter density of the flat LCDM cosmology (h = 1). Default: the
    /// catalog's OMEGAM keyword, else 0.26.
    #[arg(long)]
    pub omega_m: Option<f64>,
    /// Output FITS file (VAST VoidFinder layout). Default:
    /// <catalog stem>_VoidFinder_Output.fits in the current directory.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Worker threads (default: all cores). The result does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Lower comoving distance limit, Mpc/h (default: that of the lowest redshift).
    #[arg(long)]
    pub min_dist: Option<f64>,
    /// Upper comoving distance limit, Mpc/h (default: that of the highest redshift).
    #[arg(long)]
    pub max_dist: Option<f64>,
    /// Periodic box of this side (Mpc/h), no mask: CATALOG is an "x y z" text file.
    #[arg(long)]
    pub box_size: Option<f64>,
    /// Lower corner of the periodic box on each axis, Mpc/h (default: -L/2
    /// when a coordinate is negative, else 0).
    #[arg(long, allow_hyphen_values = true, requires = "box_size")]
    pub box_origin: Option<f64>,
    /// Take the footprint from the MASK HDU of this VoidFinder file.
    #[arg(long, conflicts_with = "mask_healpix_depth")]
    pub mask: Option<PathBuf>,
    /// Build the footprint from the HEALPix cells (this depth, NSIDE =
    /// 2^depth) that hold galaxies, instead of VAST's RA/Dec grid.
    #[arg(long)]
    pub mask_healpix_depth: Option<u8>,
    /// Do not fill one-cell gaps of the RA/Dec footprint (VAST's smooth_mask).
    #[arg(long)]
    pub no_smooth_mask: bool,
}

/// Arguments of `voids classify`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct ClassifyArgs {
    /// Void catalog files (DESIVAST/VAST VoidFinder or V2 FITS), any number.
    #[arg(long = "catalog")]
    pub catalogs: Vec<PathBuf>,
    /// Void catalogs already ingested, by registry file id
    /// (`astrolab files list`); read again from their source path, which
    /// must still hold the same bytes.
    #[arg(long = "run")]
    pub runs: Vec<i64>,
    /// Galaxies from a FITS or CSV file (ra, dec, z or redshift; targetid
    /// when present) instead of the store.
    #[arg(long)]
    pub galaxies: Option<PathBuf>,
    /// Store table with the galaxies: fastspec, zcatalog or galaxies
    /// (default: the first of them that has rows).
    #[arg(long)]
    pub galaxies_table: Option<String>,
    /// Omega_m for distances (default: the catalog's OMEGAM keyword; a
    /// catalog without it needs this flag).
    #[arg(long)]
    pub omega_m: Option<f64>,
    /// HEALPix depth of the footprint built from the galaxies when the
    /// catalog has no MASK HDU (6: NSIDE 64, 0.92 deg cells).
    #[arg(long, default_value_t = 6)]
    pub mask_depth: u8,
    /// Edge buffer, Mpc/h (VAST: 10).
    #[arg(long, default_value_t = EDGE_BUFFER_MPC_H)]
    pub edge_buffer: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `voids compare`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct CompareArgs {
    /// Algorithms to compare (default: every one with membership rows).
    #[arg(long = "algorithm")]
    pub algorithms: Vec<String>,
    /// Directory for summary.txt, summary.json and the figures (default
    /// $ASTROLAB_HOME/voids/compare).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Bootstrap replicates.
    #[arg(long, default_value_t = 1000)]
    pub replicates: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Skip the figures.
    #[arg(long)]
    pub no_plots: bool,
}

/// Arguments of `voids publish`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct PublishArgs {
    /// Output FITS file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// The algorithm whose vflag = 1 defines IS_VOID (and the control sample).
    #[arg(long, default_value = "VoidFinder")]
    pub algorithm: String,
    /// AUTHOR keyword.
    #[arg(long)]
    pub author: String,
    /// VAC_VERS keyword.
    #[arg(long, default_value = "1.0")]
    pub vac_version: String,
    /// FSF_VERS keyword (FastSpecFit version of the properties).
    #[arg(long, default_value = "v3.0")]
    pub fsf_version: String,
    /// DATE keyword (default: today, UTC, YYYY-MM-DD).
    #[arg(long)]
    pub date: Option<String>,
    /// FastSpecFit files to validate LOGMSTAR and SFR against.
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// Fail (instead of warning) when the validation finds > 1 % of
    /// objects off by > 0.1 dex.
    #[arg(long)]
    pub strict: bool,
}

/// Frame windows on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowArg {
    Hann,
    Blackman,
}

/// Channelisers on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChanneliserArg {
    /// Windowed FFT.
    Fft,
    /// Polyphase filterbank.
    Pfb,
}

/// Sample encodings of raw captures.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatatypeArg {
    Cu8,
    Ci8,
    Ci16Le,
    Cf32Le,
}

impl DatatypeArg {
    pub fn datatype(self) -> IqDatatype {
        match self {
            DatatypeArg::Cu8 => IqDatatype::Cu8,
            DatatypeArg::Ci8 => IqDatatype::Ci8,
            DatatypeArg::Ci16Le => IqDatatype::Ci16Le,
            DatatypeArg::Cf32Le => IqDatatype::Cf32Le,
        }
    }
}

/// A number on the command line inside `range` (the same physical ranges
/// the recordings' own metadata must respect).
pub fn in_range(s: &str, range: &PhysicalRange) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of {}", range.unit))?;
    range.check(v)
}

pub fn integration_s(s: &str) -> std::result::Result<f64, String> {
    in_range(s, &INTEGRATION_RANGE)
}

pub fn sample_rate_hz(s: &str) -> std::result::Result<f64, String> {
    in_range(s, &SAMPLE_RATE_RANGE)
}

pub fn center_freq_hz(s: &str) -> std::result::Result<f64, String> {
    in_range(s, &CENTER_FREQ_RANGE)
}

/// Spectrometer and output settings shared by `process` and `watch`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct ProcessOptions {
    /// Frequency channels per spectrum.
    #[arg(long, default_value_t = 1024)]
    pub channels: usize,
    /// Integration time per spectrum, seconds (1e-6 to 86400).
    #[arg(long, default_value_t = 1.0, value_parser = integration_s)]
    pub integration_s: f64,
    /// Channeliser.
    #[arg(long, value_enum, default_value_t = ChanneliserArg::Fft)]
    pub channeliser: ChanneliserArg,
    /// Taps of the polyphase filterbank.
    #[arg(long, default_value_t = 4)]
    pub taps: usize,
    /// Window of the FFT frames or the PFB prototype.
    #[arg(long, value_enum, default_value_t = WindowArg::Hann)]
    pub window: WindowArg,
    /// Spectral-kurtosis bounds, in standard deviations.
    #[arg(long, default_value_t = 3.0)]
    pub sk_sigma: f64,
    /// Spike threshold, in robust sigmas above the running median.
    #[arg(long, default_value_t = 6.0)]
    pub spike_sigma: f64,
    /// Raw captures (not SigMF): sample rate, Hz (rtl_sdr -s; 1e3 to
    /// 1e11).
    #[arg(long, value_parser = sample_rate_hz)]
    pub sample_rate_hz: Option<f64>,
    /// Raw captures: tuned frequency, Hz (rtl_sdr -f; 1e3 to 1e12).
    #[arg(long, value_parser = center_freq_hz)]
    pub center_freq_hz: Option<f64>,
    /// Raw captures: start time, ISO 8601 UTC (e.g. 2026-11-22T20:00:00Z).
    #[arg(long)]
    pub start: Option<String>,
    /// Raw captures: sample encoding.
    #[arg(long, value_enum, default_value_t = DatatypeArg::Cu8)]
    pub datatype: DatatypeArg,
    /// Pointing, ICRS right ascension (overrides the recording's).
    #[arg(long, requires = "dec_deg")]
    pub ra_deg: Option<f64>,
    /// Pointing, ICRS declination.
    #[arg(long, requires = "ra_deg")]
    pub dec_deg: Option<f64>,
    /// Site latitude (overrides the recording's geolocation).
    #[arg(long, requires = "lon_deg")]
    pub lat_deg: Option<f64>,
    /// Site longitude, east positive.
    #[arg(long, requires = "lat_deg")]
    pub lon_deg: Option<f64>,
    /// Site height, metres.
    #[arg(long, default_value_t = 0.0)]
    pub height_m: f64,
    /// System temperature, K: reports the line's peak in kelvin.
    #[arg(long)]
    pub tsys_k: Option<f64>,
    /// Directory for the SigMF archives of spectra (default: HOME/hline).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Do not register the recording nor write its spectra to the store.
    #[arg(long)]
    pub no_store: bool,
    /// Process again a recording already in the store.
    #[arg(long)]
    pub force: bool,
    /// Waterfall figure per recording (.svg or .png) in the archive
    /// directory.
    #[arg(long, value_enum)]
    pub waterfall: Option<FigureArg>,
    /// Exit with an error when no HI line is detected.
    #[arg(long)]
    pub require_line: bool,
    /// One JSON object per recording on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub calibration: CalibrationArgs,
}

/// Figure formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FigureArg {
    Svg,
    Png,
}

/// Arguments of `hline process`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct ProcessArgs {
    /// Recordings: SigMF (.sigmf-meta, .sigmf-data or their stem) or raw
    /// rtl_sdr captures (give --sample-rate-hz and --center-freq-hz).
    #[arg(required = true)]
    pub recordings: Vec<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub opts: ProcessOptions,
}

/// Calibration options of `hline process` / `hline watch`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct CalibrationArgs {
    /// Frequency switching: a reference recording of the same sky, tuned
    /// off the line, with the same sample rate. T = Tsys (sig - ref) / ref
    /// with Tsys from --tsys-k; when the tuning offset is a whole number of
    /// channels the two phases are folded (as GBTIDL getfs).
    #[arg(long, value_name = "RECORDING", conflicts_with = "yfactor_hot")]
    pub fsw_ref: Option<PathBuf>,
    /// Y-factor: a recording of the hot load (an absorber at --t-hot-k),
    /// same tuning and sample rate as the signal.
    #[arg(long, value_name = "RECORDING", requires = "yfactor_cold")]
    pub yfactor_hot: Option<PathBuf>,
    /// Y-factor: a recording of the cold load (cold sky at --t-cold-k).
    #[arg(long, value_name = "RECORDING", requires = "yfactor_hot")]
    pub yfactor_cold: Option<PathBuf>,
    /// Y-factor: hot load temperature, K (an absorber at ambient).
    #[arg(long, default_value_t = 290.0)]
    pub t_hot_k: f64,
    /// Y-factor: cold load temperature, K (cold sky towards the zenith at
    /// 1.4 GHz: CMB, atmosphere and Galactic background together, about 10 K).
    #[arg(long, default_value_t = 10.0)]
    pub t_cold_k: f64,
}

/// Arguments of `hline fit`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct FitArgs {
    /// Calibrated spectra: SALSA FITS, SDFITS-style FITS (ours or GBTIDL's),
    /// or CSV with columns v_lsr_km_s, t_k (optional glon_deg, glat_deg).
    #[arg(required_unless_present = "recording")]
    #[serde(default)]
    pub spectra: Vec<PathBuf>,
    /// Instead of files: the recording with this file id in the store
    /// (`hline process`), analysed as the server's hydrogen-line page does:
    /// its calibrated spectrum when it has one, else the mean of its
    /// integrations relative to the baseline (in units of Tsys).
    #[arg(long, value_name = "FILE_ID", conflicts_with = "spectra")]
    pub recording: Option<i64>,
    #[command(flatten)]
    #[serde(flatten)]
    pub analysis: AnalysisArgs,
    /// Result table: .csv, .json or .fits (one row per component).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Directory for one figure per spectrum (spectrum, baseline-subtracted,
    /// with its components).
    #[arg(long)]
    pub plot_dir: Option<PathBuf>,
    /// Figure format.
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg)]
    pub plot_format: PlotFormat,
}

/// Figure formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    pub fn ext(self) -> &'static str {
        match self {
            PlotFormat::Svg => "svg",
            PlotFormat::Png => "png",
        }
    }
}

/// LSR definitions on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LsrArg {
    /// Kinematic LSR (20 km/s toward 18h +30 B1900), the radio standard.
    Kinematic,
    /// Schoenrich et al. 2010.
    Schoenrich,
}

/// Options shared by `fit` and `rotation-curve`.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnalysisArgs {
    /// Line-free velocity windows for the baseline, km/s:
    /// "-230:-180,-120:-40,60:220". Default: found automatically (channels
    /// more than 3 sigma above an iterated fit, and their neighbours, masked).
    #[arg(long, allow_hyphen_values = true)]
    pub baseline_windows: Option<String>,
    /// Baseline polynomial order; default: chosen by BIC up to --max-baseline-order.
    #[arg(long)]
    pub baseline_order: Option<usize>,
    #[arg(long, default_value_t = 4)]
    pub max_baseline_order: usize,
    /// Most Gaussian components tried.
    #[arg(long, default_value_t = 6)]
    pub max_components: usize,
    /// Information criterion for the number of components.
    #[arg(long, value_enum, default_value_t = CriterionArg::Bic)]
    pub criterion: CriterionArg,
    /// Velocity range fitted (km/s), "lo:hi"; default: the whole spectrum.
    #[arg(long, allow_hyphen_values = true)]
    pub vrange: Option<String>,
    /// LSR definition used when the correction is computed here (SDFITS
    /// without VELO-LSR); SALSA files carry their own.
    #[arg(long, value_enum, default_value_t = LsrArg::Kinematic)]
    pub lsr: LsrArg,
    /// Sun-Galactic centre distance, kpc (HVC model, rotation curve).
    #[arg(long, default_value_t = 8.5)]
    pub r0_kpc: f64,
    /// Circular velocity at the Sun, km/s.
    #[arg(long, default_value_t = 220.0)]
    pub v0_km_s: f64,
    /// Bad topocentric frequencies, MHz, left out of baseline and fit:
    /// ranges "1420.005:1420.012" or single values "1420.0094" (the channel
    /// holding it), comma-separated.
    #[arg(long, allow_hyphen_values = true)]
    pub mask_freq: Option<String>,
    /// Bad v_LSR ranges or single velocities, km/s, as --mask-freq.
    #[arg(long, allow_hyphen_values = true)]
    pub mask_vel: Option<String>,
}

/// Criteria on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriterionArg {
    Bic,
    Aic,
}

/// Arguments of `hline rotation-curve`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct RotationArgs {
    /// Calibrated spectra (as for `hline fit`); those with 0 < l < 90 give tangent points.
    #[arg(required = true)]
    pub spectra: Vec<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub analysis: AnalysisArgs,
    /// How v_max is found: the most positive Gaussian component (above
    /// --min-amp-k), or the most positive channel above --threshold-k.
    #[arg(long, value_enum, default_value_t = VmaxArg::Component)]
    pub vmax: VmaxArg,
    /// Component method: smallest peak (K) for a component to count.
    #[arg(long, default_value_t = 1.0)]
    pub min_amp_k: f64,
    /// Threshold method: brightness (K) the emission must exceed; default 5
    /// times the spectrum's noise rms.
    #[arg(long)]
    pub threshold_k: Option<f64>,
    /// Tangent points CSV (l, b, v_max, R, V).
    #[arg(long)]
    pub output: PathBuf,
    /// Rotation-curve figure (.svg or .png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// l-v diagram: its data as CSV (l, v, T) ...
    #[arg(long)]
    pub lv_output: Option<PathBuf>,
    /// ... and its figure (.svg or .png).
    #[arg(long)]
    pub lv_plot: Option<PathBuf>,
    /// Velocity step of the l-v grid, km/s.
    #[arg(long, default_value_t = 2.0)]
    pub lv_step_km_s: f64,
}

/// v_max methods on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmaxArg {
    Component,
    Threshold,
}

/// Arguments of `hline calibrate`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct CalibrateArgs {
    /// GBT SDFITS file (raw VEGAS or any SDFITS with CAL/SIG/PROCSEQN columns).
    pub sdfits: PathBuf,
    /// Scan number: the ON or the OFF scan of a position-switched pair.
    #[arg(long)]
    pub scan: i64,
    /// Spectral window (IFNUM).
    #[arg(long, default_value_t = 0)]
    pub ifnum: i64,
    /// Polarisation (PLNUM).
    #[arg(long, default_value_t = 0)]
    pub plnum: i64,
    /// Feed (FDNUM).
    #[arg(long, default_value_t = 0)]
    pub fdnum: i64,
    /// Only this integration (0-based); default: all, averaged with
    /// GBTIDL's weights (exposure x channel width / Tsys^2).
    #[arg(long)]
    pub intnum: Option<i64>,
    /// Smooth the reference (OFF) by a boxcar of this many channels before
    /// the division (GBTIDL `smthoff`).
    #[arg(long, default_value_t = 1)]
    pub smthoff: usize,
    /// Output SDFITS-style file.
    #[arg(long)]
    pub output: PathBuf,
}

/// Arguments of `hline watch`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct WatchArgs {
    /// Directory where recordings land.
    pub dir: PathBuf,
    /// Process what is there (complete and stable) and exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between scans.
    #[arg(long, default_value_t = 5.0)]
    pub interval_s: f64,
    #[command(flatten)]
    #[serde(flatten)]
    pub opts: ProcessOptions,
}

/// Parameters of the waterfall figure of a recording's spectra archive.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct WaterfallArgs {
    /// The spectra archive `hline process` wrote (its `.sigmf-meta`).
    pub archive: PathBuf,
    /// The figure (.svg or .png).
    #[arg(long)]
    pub output: PathBuf,
    /// Title (default: the archive's source recording).
    #[arg(long)]
    pub title: Option<String>,
}

/// `astrolab quickstart`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct QuickstartArgs {
    /// Number of demo galaxies.
    #[arg(long, default_value_t = 20_000)]
    pub galaxies: usize,
    /// Random seed of the demo sky.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `anomalies train`: a variational autoencoder over the store's quasar
/// spectra, its Isolation Forest and its calibration (issue 17).
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnomaliesTrainArgs {
    /// Which spectra: a --where expression over the redshift catalogs
    /// (redrock `redshifts`, then `zcatalog`) of the store.
    #[arg(long, default_value = "spectype = 'QSO' AND zwarn = 0")]
    pub select: String,
    /// Dimension of the latent space.
    #[arg(long, default_value_t = 16)]
    pub latent: usize,
    /// Seed of every random choice (same seed, same weights and scores).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs at most.
    #[arg(long, default_value_t = 200)]
    pub max_epochs: usize,
    /// Spectra per mini-batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam's step size at the start.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Epochs over which the step size is annealed by a half cosine from
    /// --learning-rate to --lr-min (SGDR, Loshchilov & Hutter 2017, without
    /// restarts); 0 = a constant --learning-rate.
    #[arg(long, default_value_t = 30)]
    #[serde(default = "default_lr_anneal_epochs")]
    pub lr_anneal_epochs: usize,
    /// The step size at the end of the annealing and after it.
    #[arg(long, default_value_t = 1e-5)]
    #[serde(default = "default_lr_min")]
    pub lr_min: f64,
    /// Clip each mini-batch's gradient norm at this many times the running
    /// mean of the norms so far (at least 1; 0 = no clipping).
    #[arg(long, default_value_t = 2.0)]
    #[serde(default = "default_grad_clip")]
    pub grad_clip: f64,
    /// Weight of the KL term (1 = the plain VAE).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// Fraction of the training spectra held out for early stopping.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Early stopping: epochs without a better validation loss.
    #[arg(long, default_value_t = 10)]
    pub patience: usize,
    /// Fraction of the selected spectra never trained on: half fixes the
    /// score ranks, half the threshold.
    #[arg(long, default_value_t = 0.2)]
    pub calibration_fraction: f64,
    /// False-positive rate the threshold holds on held-out spectra.
    #[arg(long, default_value_t = 0.01)]
    pub fpr: f64,
    /// Fractional model error added to the noise in the reduced
    /// chi-square (0 = the inverse variance alone).
    #[arg(long, default_value_t = 0.07)]
    #[serde(default = "default_model_error")]
    pub model_error: f64,
    /// Train on at most this many spectra (a seeded sample).
    #[arg(long)]
    pub max_spectra: Option<usize>,
    /// Also train on the quasars of these spectrum files (SDSS/BOSS
    /// spec-*.fits with CLASS QSO, DESI coadd-*.fits rows with a quasar
    /// redshift from --redshifts), or directories of them: real spectra
    /// beside the store's.
    #[arg(long, num_args = 1..)]
    #[serde(default)]
    pub with_files: Vec<PathBuf>,
    /// Redshift tables for the DESI rows of --with-files (redrock files or
    /// quasar catalogs, joined by TARGETID).
    #[arg(long, num_args = 1.., requires = "with_files")]
    #[serde(default)]
    pub redshifts: Vec<PathBuf>,
    /// Directory of the model (weights, forest, calibration, training
    /// checkpoint); an unfinished training there is resumed.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Do not register the model in the store.
    #[arg(long)]
    pub no_register: bool,
}

fn default_model_error() -> f64 {
    0.07
}

fn default_lr_anneal_epochs() -> usize {
    30
}

fn default_lr_min() -> f64 {
    1e-5
}

fn default_grad_clip() -> f64 {
    2.0
}

/// `anomalies score`: score the store's quasars with a registered model.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnomaliesScoreArgs {
    /// Model id (or a unique prefix); default the newest model.
    #[arg(long, conflicts_with = "model_dir")]
    pub model: Option<String>,
    /// Score with this model directory (made by `anomalies train`, here or
    /// elsewhere); it is registered in this store on first use.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Which spectra: a --where expression over the redshift catalogs.
    #[arg(long, default_value = "spectype = 'QSO' AND zwarn = 0")]
    pub select: String,
    /// Spectra per shard (read, rest-framed and scored together).
    #[arg(long, default_value_t = 5000)]
    pub shard_size: usize,
    /// The ranked catalog (CSV: TARGETID, Z, RECON_CHI2, ISO_SCORE,
    /// ANOMALY_SCORE, RANK, ANOMALOUS, then the latent vector).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Do not write the scores into the store.
    #[arg(long)]
    pub no_store: bool,
}

/// `anomalies score-files`: score spectrum files outside the store.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnomaliesScoreFilesArgs {
    /// SDSS/BOSS spec-*.fits files, DESI coadd-*.fits files, or
    /// directories of them (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Redshift tables for DESI coadd rows, joined by TARGETID: redrock
    /// files or quasar catalogs (QSO_cat_*.fits[.gz]); the first naming a
    /// TARGETID wins. SDSS files carry their own redshift.
    #[arg(long, num_args = 1..)]
    pub redshifts: Vec<PathBuf>,
    /// Model id (or a unique prefix); default the newest model.
    #[arg(long, conflicts_with = "model_dir")]
    pub model: Option<String>,
    /// Score with this model directory (made by `anomalies train`); it is
    /// registered in this store on first use.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// The ranked catalog (CSV: NAME, SURVEY, FILE, TARGETID, CLASS,
    /// ZWARNING, Z, RECON_CHI2, LOCAL, ISO_SCORE, ANOMALY_SCORE, RANK,
    /// ANOMALOUS, SKIPPED, then the latent vector); unscored spectra last,
    /// with the reason in SKIPPED.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Write figures (SVG: the rest-frame spectrum over the model's
    /// reconstruction, and the residuals) into this directory: the three
    /// most anomalous spectra, the three of median rank, and each --figure.
    #[arg(long)]
    pub figures: Option<PathBuf>,
    /// A spectrum (its NAME in the catalog) to draw as well.
    #[arg(long = "figure", requires = "figures")]
    pub figure: Vec<String>,
}

/// `anomalies export`: the labelled anomaly catalog.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnomaliesExportArgs {
    /// Model id (or a unique prefix); default the newest model.
    #[arg(long)]
    pub model: Option<String>,
    /// Every scored quasar, not only the labelled ones.
    #[arg(long)]
    #[serde(default)]
    pub all: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub out: OutputArgs,
}

/// `anomalies similar`: the quasars nearest to one in latent space.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct AnomaliesSimilarArgs {
    /// TARGETID of the quasar to start from.
    pub target_id: i64,
    /// Neighbours to list.
    #[arg(short, long, default_value_t = 20)]
    pub k: usize,
    /// Model id (or a unique prefix); default the newest model.
    #[arg(long)]
    pub model: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub out: OutputArgs,
}

/// `outflows cloudy-grid`: Cloudy input decks for a photoionization grid
/// (and the models run when a Cloudy binary is given).
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct CloudyGridArgs {
    /// Directory for the decks (and Cloudy's outputs).
    #[arg(long)]
    pub out: PathBuf,
    /// log10 hydrogen density n_H (cm^-3) of every model.
    #[arg(long, default_value_t = 4.0, allow_negative_numbers = true)]
    pub log_hden: f64,
    /// Lowest log U.
    #[arg(long, default_value_t = -4.0, allow_negative_numbers = true)]
    pub log_u_min: f64,
    /// Highest log U.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub log_u_max: f64,
    /// Lowest log N_H (cm^-2).
    #[arg(long, default_value_t = 19.0)]
    pub log_nh_min: f64,
    /// Highest log N_H (cm^-2).
    #[arg(long, default_value_t = 23.0)]
    pub log_nh_max: f64,
    /// Grid step in both axes (dex).
    #[arg(long, default_value_t = 0.25)]
    pub step: f64,
    /// Also write the single deck that runs the whole grid with Cloudy's
    /// own `vary`/`grid` commands.
    #[arg(long)]
    pub vary: bool,
    /// The Cloudy binary: when given, every model is run (one shard each,
    /// `cloudy.exe -r STEM` in the output directory) and its `.out` checked.
    #[arg(long, env = "CLOUDY_EXE")]
    pub cloudy_exe: Option<PathBuf>,
}

/// `outflows cloudy-solve`: (N_H, U) of each outflow from its measured
/// ionic columns on a Cloudy grid, and the outflow's energetics.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct CloudySolveArgs {
    /// A directory of Cloudy runs over (log U, log N_H) at one n_H: one
    /// deck (`.in`) and its `save species column density` file (`.col`)
    /// per model.
    #[arg(long)]
    pub grid: PathBuf,
    /// Measured columns (CSV: OUTFLOW, SPECIES as Cloudy names it, e.g.
    /// `C+3`, LOG_N in cm^-2, SIGMA_DEX, and optionally CONSTRAINT:
    /// measured, lower or upper).
    #[arg(long)]
    pub columns: PathBuf,
    /// Per outflow, for the energetics (CSV: OUTFLOW, V_KM_S, REFERENCE
    /// 1350 or 3000, LAMBDA_L_LAMBDA_ERG_S, and optionally OMEGA); outflows
    /// not listed get the solve only.
    #[arg(long)]
    pub outflows: Option<PathBuf>,
    /// The table (CSV, one row per outflow).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Everything with every assumption (JSON).
    #[arg(long)]
    pub json: PathBuf,
}

/// `outflows bal`: BAL troughs and indices (DESI's BAL catalog) of the
/// store's quasars, or of spectrum files.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct OutflowsBalArgs {
    /// SDSS/BOSS spec-*.fits files, DESI coadd-*.fits files, or
    /// directories of them (searched recursively). None: the store's
    /// quasars that pass --select.
    pub paths: Vec<PathBuf>,
    /// Which of the store's spectra (a --where expression over the
    /// redshift catalogs); default `spectype = 'QSO' AND zwarn = 0`. Not
    /// with files.
    #[arg(long)]
    pub select: Option<String>,
    /// Measure every file spectrum at this redshift (for instance a
    /// catalog's, where the pipeline's is wrong). Files only.
    #[arg(long)]
    pub z: Option<f64>,
    /// Redshift tables for DESI coadd rows, joined by TARGETID: redrock
    /// files or quasar catalogs (QSO_cat_*.fits[.gz]); the first naming a
    /// TARGETID wins. SDSS files carry their own redshift. Files only.
    #[arg(long, num_args = 1..)]
    pub redshifts: Vec<PathBuf>,
    /// Continuum components: a FITS table with WAVE (rest A) and PCA0,
    /// PCA1, ... (DESI's PCA_Eigenvectors*.fits layout), or redrock's
    /// quasar templates (rrtemplate-QSO-*.fits), for spectra the PCA
    /// components fit badly. Default: DESI's 5-component
    /// PCA_Eigenvectors.fits, built in. The fit window stays rest
    /// 1261-2399 A, DESI's.
    #[arg(long)]
    pub pca: Option<PathBuf>,
    /// Store spectra per shard (read and measured together).
    #[arg(long, default_value_t = 2000)]
    pub shard_size: usize,
    /// The catalog: `.fits` for a FITS binary table with DESI's column
    /// shapes, anything else CSV (vector columns flattened as NAME_0,
    /// NAME_1, ...).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Do not write the measurements into the store (store mode).
    #[arg(long)]
    pub no_store: bool,
}

/// `qso fit`: quasar spectral fits (continuum, Fe II, emission lines,
/// [O III] kinematics, black-hole masses) of the store's quasars or of
/// spectrum files.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct QsoFitArgs {
    /// SDSS/BOSS spec-*.fits files, DESI coadd-*.fits files, or
    /// directories of them (searched recursively). None: the store's
    /// quasars that pass --select.
    pub paths: Vec<PathBuf>,
    /// Which of the store's spectra (a --where expression over the
    /// redshift catalogs); default `spectype = 'QSO' AND zwarn = 0`. Not
    /// with files.
    #[arg(long)]
    pub select: Option<String>,
    /// Fit every file spectrum at this redshift. Files only.
    #[arg(long)]
    pub z: Option<f64>,
    /// Redshift tables for DESI coadd rows, joined by TARGETID (redrock
    /// files or QSO_cat_*.fits[.gz]). Files only.
    #[arg(long, num_args = 1..)]
    pub redshifts: Vec<PathBuf>,
    /// Emission-line table (TOML, the form of the built-in one, which
    /// `astrolab qso lines` prints). Default: built in (H-beta/[O III] with
    /// wings, H-alpha, Mg II, C IV).
    #[arg(long)]
    pub lines: Option<PathBuf>,
    /// Optical Fe II template (two columns: log10 wavelength/A, flux), e.g.
    /// PyQSOFit's fe_optical.txt (Boroson & Green 1992). Without it, no
    /// optical Fe II is fitted.
    #[arg(long)]
    pub fe_optical: Option<PathBuf>,
    /// UV Fe II template (same form), e.g. PyQSOFit's fe_uv.txt
    /// (Vestergaard & Wilkes 2001; Salviander et al. 2007). Without it, no
    /// UV Fe II is fitted.
    #[arg(long)]
    pub fe_uv: Option<PathBuf>,
    /// Do not fit a Balmer continuum.
    #[arg(long)]
    pub no_balmer: bool,
    /// Galactic E(B-V) (mag) to deredden every spectrum with (CCM89 +
    /// O'Donnell 94, R_V 3.1). Default: none.
    #[arg(long)]
    pub ebv: Option<f64>,
    /// Monte-Carlo samples for the errors (0: none).
    #[arg(long, default_value_t = 0)]
    pub mc: usize,
    /// Seed of the Monte-Carlo draws.
    #[arg(long, default_value_t = 20_261_206)]
    pub seed: u64,
    /// Electron density of the [O III] outflow (cm^-3).
    #[arg(long, default_value_t = 500.0)]
    pub n_e: f64,
    /// Radius of the [O III] outflow (kpc).
    #[arg(long, default_value_t = 1.0)]
    pub outflow_radius_kpc: f64,
    /// Store spectra per shard.
    #[arg(long, default_value_t = 500)]
    pub shard_size: usize,
    /// The catalog: `.fits` for a FITS binary table (`QSOFIT`), anything
    /// else CSV.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Write a QA figure per fitted spectrum (data, model, components,
    /// residuals) into this directory (`NAME.svg`).
    #[arg(long)]
    pub qa: Option<PathBuf>,
    /// Do not write the fits into the store (store mode; with files they
    /// are never written there).
    #[arg(long)]
    #[serde(default)]
    pub no_store: bool,
}
