//! The JSON API under `/api/v1`. One table lists every route with its
//! method, access and parameters: the router is built from it and the
//! OpenAPI document is generated from it, so the two cannot drift (a test
//! also calls every documented route through the router).

pub mod admin;
pub mod anomalies;
pub mod catalog;
pub mod hline;
pub mod openapi;
pub mod page;
pub mod qso_fits;
pub mod runs;
pub mod science;
pub mod spectra;
pub mod voids;

use axum::routing::{delete, get, patch, post, put, MethodRouter};

use crate::auth::{ADMIN, RESEARCHER, VIEWER};
use crate::state::AppState;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// `?name=` in the query string.
    Query,
    /// `{name}` in the path.
    Path,
}

/// One documented parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// Where.
    pub place: In,
    /// OpenAPI type: `string`, `number`, `integer`, `boolean`.
    pub ty: &'static str,
    /// Required?
    pub required: bool,
    /// What it means.
    pub doc: &'static str,
}

const fn q(name: &'static str, ty: &'static str, required: bool, doc: &'static str) -> Param {
    Param {
        name,
        place: In::Query,
        ty,
        required,
        doc,
    }
}

const fn p(name: &'static str, ty: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        place: In::Path,
        ty,
        required: true,
        doc,
    }
}

/// One route of the API.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template (`/api/v1/runs/{id}`).
    pub path: &'static str,
    /// Least role; None for public routes.
    pub role: Option<u8>,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Parameters.
    pub params: &'static [Param],
    /// Request body media type and description, when there is one.
    pub body: Option<(&'static str, &'static str)>,
    /// Response media type.
    pub produces: &'static str,
}

const PAGE: [Param; 2] = [
    q(
        "limit",
        "integer",
        false,
        "rows per page (at most the server's max_rows)",
    ),
    q("offset", "integer", false, "rows to skip"),
];

macro_rules! route {
    ($m:literal $path:literal, $role:expr, $tag:literal, $summary:literal, [$($param:expr),* $(,)?], $body:expr, $produces:literal) => {
        RouteDoc {
            method: $m,
            path: $path,
            role: $role,
            tag: $tag,
            summary: $summary,
            // Inline const: the parameter list is a 'static table.
            params: const { &[$($param),*] },
            body: $body,
            produces: $produces,
        }
    };
}

const JSON: Option<(&str, &str)> = None;

/// Every API route: its documentation and its handler.
pub fn routes() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        (
            route!("GET" "/api/v1/openapi.json", None, "meta", "This OpenAPI document", [], JSON, "application/json"),
            get(openapi::document),
        ),
        (
            route!("GET" "/api/v1/me", Some(VIEWER), "meta", "The caller: account, role, projects", [], JSON, "application/json"),
            get(admin::me),
        ),
        (
            route!("POST" "/api/v1/me/password", Some(VIEWER), "accounts", "Change your own password (proving the current one); every session of the account ends", [], Some(("application/json", "{current_password, new_password}")), "application/json"),
            post(admin::change_password),
        ),
        (
            route!("GET" "/api/v1/files", Some(VIEWER), "catalog", "The raw-file registry (files of restricted datasets only to their projects)", [PAGE[0], PAGE[1]], JSON, "application/json"),
            get(catalog::files),
        ),
        (
            route!("GET" "/api/v1/datasets", Some(VIEWER), "catalog", "Datasets the caller may read", [], JSON, "application/json"),
            get(catalog::datasets),
        ),
        (
            route!("PUT" "/api/v1/datasets/{name}", Some(ADMIN), "admin", "Create or change a dataset (visibility, projects)", [p("name", "string", "dataset name")], Some(("application/json", "{description, visibility: public|restricted, projects: [..]}")), "application/json"),
            put(catalog::put_dataset),
        ),
        (
            route!("POST" "/api/v1/datasets/{name}/files", Some(ADMIN), "admin", "Add registered raw files to a dataset", [p("name", "string", "dataset name")], Some(("application/json", "{file_ids: [..]}")), "application/json"),
            post(catalog::add_dataset_files),
        ),
        (
            route!("GET" "/api/v1/cone", Some(VIEWER), "catalog", "Cone search on a sky table, nearest first", [
            q("table", "string", false, "sky table (default zcatalog)"),
            q("ra", "number", true, "centre right ascension, degrees"),
            q("dec", "number", true, "centre declination, degrees"),
            q("radius", "number", true, "radius, degrees (0 < r <= 10)"),
            q("where", "string", false, "filter on the table's columns, e.g. zwarn = 0 AND z < 1"),
            PAGE[0], PAGE[1],
        ], JSON, "application/json"),
            get(catalog::cone),
        ),
        (
            route!("POST" "/api/v1/xmatch", Some(VIEWER), "catalog", "Crossmatch uploaded positions (CSV with ra,dec columns, or FITS) against a sky table", [
            q("table", "string", false, "sky table (default zcatalog)"),
            q("radius_arcsec", "number", false, "match radius, arcsec (default 1, at most 60)"),
            PAGE[0], PAGE[1],
        ], Some(("text/csv", "CSV with ra and dec columns (degrees), or a FITS table (application/fits)")), "application/json"),
            post(catalog::xmatch),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}", Some(VIEWER), "spectra", "A spectrum by TARGETID: wavelength, flux, ivar, mask", [p("targetid", "integer", "DESI TARGETID")], JSON, "application/json"),
            get(spectra::spectrum),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}/plot.svg", Some(VIEWER), "spectra", "SVG plot of a spectrum (flux, 1-sigma band, masked pixels, lines)", [p("targetid", "integer", "DESI TARGETID"), q("rest", "boolean", false, "rest-frame wavelength axis")], JSON, "image/svg+xml"),
            get(spectra::spectrum_svg),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}/bal", Some(VIEWER), "spectra", "The quasar's BAL measurements (astrolab outflows bal; DESI BAL catalog columns: BI, AI, troughs, PCA_COEFFS), one row per BAL catalog; rows of files the caller may not read are left out", [p("targetid", "integer", "DESI TARGETID")], JSON, "application/json"),
            get(spectra::spectrum_bal),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}/bal.svg", Some(VIEWER), "spectra", "SVG figure of the quasar's BAL troughs: rest-frame flux 1261-1700 A, the PCA continuum and 0.9 x continuum, C IV and Si IV AI troughs shaded and BI troughs marked, BI_CIV and AI_CIV (rows of the built-in continuum basis only)", [p("targetid", "integer", "DESI TARGETID")], JSON, "image/svg+xml"),
            get(spectra::spectrum_bal_svg),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}/qsofit", Some(VIEWER), "spectra", "The quasar's spectral fits (astrolab qso fit: continuum, Fe II, lines, [O III] kinematics, luminosities, black-hole masses, outflow energetics), one row per fit catalog; rows of files the caller may not read are left out", [p("targetid", "integer", "DESI TARGETID")], JSON, "application/json"),
            get(qso_fits::spectrum_qso_fit),
        ),
        (
            route!("GET" "/api/v1/spectra/{targetid}/qsofit.svg", Some(VIEWER), "spectra", "SVG figure of the quasar's spectral fit: rest-frame data, model, power law + Balmer continuum, Fe II, lines and residuals, redrawn by refitting with the catalog's stored settings (header X-Astrolab-Refit: matches or differs from the stored row)", [p("targetid", "integer", "DESI TARGETID"), q("catalog", "string", false, "fit catalog id (default: the first fitted row)")], JSON, "image/svg+xml"),
            get(qso_fits::spectrum_qso_fit_svg),
        ),
        (
            route!("GET" "/api/v1/voids/summary", Some(VIEWER), "voids", "Void membership counts per algorithm, catalog, class and galaxy source file (rows whose catalog or galaxies the caller may not read are left out)", [], JSON, "application/json"),
            get(voids::void_summary),
        ),
        (
            route!("GET" "/api/v1/voids/members", Some(VIEWER), "voids", "Galaxies by void class (void, wall, edge, outside)", [
            q("algorithm", "string", true, "void-finding algorithm as stored (VoidFinder, VIDE, REVOLVER, ZOBOV)"),
            q("class", "string", false, "void (default), wall, edge or outside"),
            PAGE[0], PAGE[1],
        ], JSON, "application/json"),
            get(voids::void_members),
        ),
        (
            route!("GET" "/api/v1/voids/stats", Some(VIEWER), "voids", "Void vs wall comparison of a galaxy property (KS and AD tests, medians)", [
            q("algorithm", "string", true, "void-finding algorithm as stored (VoidFinder, VIDE, REVOLVER, ZOBOV)"),
            q("property", "string", false, "fastspec column (default logmstar)"),
        ], JSON, "application/json"),
            get(voids::void_stats),
        ),
        (
            route!("GET" "/api/v1/anomalies/models", Some(VIEWER), "anomalies", "Registered anomaly models: threshold, scored quasars the caller may read, skips by reason", [], JSON, "application/json"),
            get(anomalies::models),
        ),
        (
            route!("GET" "/api/v1/anomalies", Some(VIEWER), "anomalies", "Quasars ranked by ANOMALY_SCORE (1 = most anomalous) with their labels", [
            q("model", "string", false, "model id or unique prefix (default the newest)"),
            q("min_score", "number", false, "only ANOMALY_SCORE >= this"),
            q("z_min", "number", false, "only redshift >= this"),
            q("z_max", "number", false, "only redshift <= this"),
            q("label", "string", false, "only quasars someone labelled anomaly, artefact, normal or unsure"),
            PAGE[0], PAGE[1],
        ], JSON, "application/json"),
            get(anomalies::list),
        ),
        (
            route!("GET" "/api/v1/anomalies/export", Some(VIEWER), "anomalies", "The labelled anomaly catalog (scores, rank, threshold flag, latest label, who, when) as CSV or FITS", [
            q("model", "string", false, "model id or unique prefix (default the newest)"),
            q("format", "string", false, "csv (default) or fits"),
            q("all", "boolean", false, "every scored quasar, not only the labelled ones"),
        ], JSON, "text/csv"),
            get(anomalies::export),
        ),
        (
            route!("GET" "/api/v1/anomalies/{targetid}", Some(VIEWER), "anomalies", "One scored quasar: scores, labels, rest-frame spectrum, the model's reconstruction and the residuals", [p("targetid", "integer", "DESI TARGETID"), q("model", "string", false, "model id or unique prefix (default the newest)")], JSON, "application/json"),
            get(anomalies::one),
        ),
        (
            route!("GET" "/api/v1/anomalies/{targetid}/similar", Some(VIEWER), "anomalies", "Quasars like this one: exact nearest neighbours in latent space", [p("targetid", "integer", "DESI TARGETID"), q("k", "integer", false, "neighbours (default 20, at most 1000)"), q("model", "string", false, "model id or unique prefix (default the newest)")], JSON, "application/json"),
            get(anomalies::similar),
        ),
        (
            route!("PUT" "/api/v1/anomalies/{targetid}/label", Some(RESEARCHER), "anomalies", "Label a scored quasar (yours replaces your earlier one; audited)", [p("targetid", "integer", "DESI TARGETID")], Some(("application/json", "{label: anomaly|artefact|normal|unsure, model?}")), "application/json"),
            put(anomalies::label),
        ),
        (
            route!("GET" "/api/v1/hline/recordings", Some(VIEWER), "hline", "Hydrogen-line recordings in the store", [PAGE[0], PAGE[1]], JSON, "application/json"),
            get(hline::hline_recordings),
        ),
        (
            route!("GET" "/api/v1/hline/recordings/{file_id}/spectra", Some(VIEWER), "hline", "Integrated spectra of a recording (frequency axis, power, RFI flags)", [p("file_id", "integer", "raw-file id of the recording"), PAGE[0], PAGE[1]], JSON, "application/json"),
            get(hline::hline_spectra),
        ),
        (
            route!("GET" "/api/v1/hline/recordings/{file_id}/fit", Some(VIEWER), "hline", "Gaussian components of the recording's mean spectrum (LSR velocities)", [p("file_id", "integer", "raw-file id of the recording"), q("components", "integer", false, "at most this many components (default 3)")], JSON, "application/json"),
            get(hline::hline_fit),
        ),
        (
            route!("GET" "/api/v1/pipelines", Some(VIEWER), "runs", "Pipelines that can be submitted as runs, with their parameters", [], JSON, "application/json"),
            get(runs::pipelines),
        ),
        (
            route!("GET" "/api/v1/runs", Some(VIEWER), "runs", "Runs, newest first", [q("state", "string", false, "queued, running, succeeded, failed or cancelled"), PAGE[0], PAGE[1]], JSON, "application/json"),
            get(runs::list),
        ),
        (
            route!("POST" "/api/v1/runs", Some(RESEARCHER), "runs", "Submit a pipeline run to the queue", [], Some(("application/json", "{pipeline, params: {...}}")), "application/json"),
            post(runs::submit),
        ),
        (
            route!("GET" "/api/v1/runs/{id}", Some(VIEWER), "runs", "One run: state, progress, result", [p("id", "integer", "run id")], JSON, "application/json"),
            get(runs::one),
        ),
        (
            route!("GET" "/api/v1/runs/{id}/logs", Some(VIEWER), "runs", "Log lines of a run after a sequence number (poll to follow)", [p("id", "integer", "run id"), q("after", "integer", false, "last sequence number seen")], JSON, "application/json"),
            get(runs::logs),
        ),
        (
            route!("POST" "/api/v1/runs/{id}/cancel", Some(RESEARCHER), "runs", "Cancel a queued run (its submitter or an admin)", [p("id", "integer", "run id")], JSON, "application/json"),
            post(runs::cancel),
        ),
        (
            route!("GET" "/api/v1/users", Some(ADMIN), "admin", "Accounts", [], JSON, "application/json"),
            get(admin::users),
        ),
        (
            route!("POST" "/api/v1/users", Some(ADMIN), "admin", "Create an account", [], Some(("application/json", "{username, role, password?, email?, projects?}")), "application/json"),
            post(admin::add_user),
        ),
        (
            route!("PATCH" "/api/v1/users/{name}", Some(ADMIN), "admin", "Change role, projects or disable an account", [p("name", "string", "username")], Some(("application/json", "{role?, disabled?, projects?}")), "application/json"),
            patch(admin::patch_user),
        ),
        (
            route!("GET" "/api/v1/tokens", Some(VIEWER), "accounts", "The caller's API tokens (admins: all)", [], JSON, "application/json"),
            get(admin::tokens),
        ),
        (
            route!("POST" "/api/v1/tokens", Some(VIEWER), "accounts", "Create an API token (shown once)", [], Some(("application/json", "{name, role?, expires_days?}")), "application/json"),
            post(admin::create_token),
        ),
        (
            route!("DELETE" "/api/v1/tokens/{prefix}", Some(VIEWER), "accounts", "Revoke a token (its owner or an admin); effective at once", [p("prefix", "string", "token prefix (8 hex)")], JSON, "application/json"),
            delete(admin::revoke_token),
        ),
        (
            route!("GET" "/api/v1/audit", Some(ADMIN), "admin", "The audit log, newest first", [q("limit", "integer", false, "events (default 100)"), q("before", "integer", false, "events before this id")], JSON, "application/json"),
            get(admin::audit),
        ),
    ]
}

/// The API router.
pub fn router() -> axum::Router<AppState> {
    routes()
        .into_iter()
        .fold(axum::Router::new(), |r, (doc, handler)| {
            r.route(doc.path, handler)
        })
}
