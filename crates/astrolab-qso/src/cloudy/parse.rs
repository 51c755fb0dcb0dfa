//! Parsers for Cloudy's output files, as written by the 2019 development
//! snapshot the lab's grid was run with (layouts close to C17/C23; see
//! `cloudy/grid-agn-logn4/README.md` in the shared data and Cloudy's "Hazy 1"
//! manual, section "save" commands).
//!
//! Every parser takes the file's text and a name used in error messages.

use crate::cloudy::{CloudyError, LOG_ZERO};

/// Marker Cloudy writes after each grid point in `vary`/`grid` runs.
const GRID_DELIMIT: &str = "GRID_DELIMIT";

/// `save species column density`: species labels and column densities.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDensities {
    /// Cloudy species labels (`H`, `C+3`, ...), in file order.
    pub species: Vec<String>,
    /// Column densities (cm^-2), linear, in the same order; 0 for an absent
    /// species.
    pub cm2: Vec<f64>,
}

impl ColumnDensities {
    /// Linear column (cm^-2) of a species label.
    pub fn get(&self, species: &str) -> Option<f64> {
        let i = self.species.iter().position(|s| s == species)?;
        Some(self.cm2[i])
    }

    /// log10 column (cm^-2), floored at [`LOG_ZERO`] (an absent species).
    pub fn log10(&self, species: &str) -> Option<f64> {
        self.get(species).map(log_floor)
    }
}

/// log10 with Cloudy's -30 for zero.
pub(crate) fn log_floor(x: f64) -> f64 {
    if x > 0.0 {
        x.log10().max(LOG_ZERO)
    } else {
        LOG_ZERO
    }
}

/// Cloudy species label for a spectroscopic ion (`C IV` -> `C+3`,
/// `H I` -> `H`), or `None` if the text is not `Element Roman`.
pub fn species_label(ion: &str) -> Option<String> {
    let mut parts = ion.split_whitespace();
    let (el, roman) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let stage = roman_value(roman)?;
    Some(match stage {
        1 => el.to_string(),
        2 => format!("{el}+"),
        n => format!("{el}+{}", n - 1),
    })
}

fn roman_value(r: &str) -> Option<u32> {
    let digit = |c| match c {
        'I' => Some(1),
        'V' => Some(5),
        'X' => Some(10),
        _ => None,
    };
    let vals: Vec<u32> = r.chars().map(digit).collect::<Option<_>>()?;
    let mut total = 0;
    for (i, v) in vals.iter().enumerate() {
        if vals.get(i + 1).is_some_and(|next| next > v) {
            total -= *v as i64;
        } else {
            total += *v as i64;
        }
    }
    u32::try_from(total).ok().filter(|t| *t > 0)
}

fn col_header(line: &str, name: &str) -> Result<Vec<String>, CloudyError> {
    // The first label follows `#column density` after a space, the others
    // are tab-separated: `#column density H\tH+\tH2...` (not the tab the
    // README suggests; a tab is accepted too).
    let Some(rest) = line.strip_prefix("#column density") else {
        return Err(CloudyError::parse(
            name,
            1,
            "header: expected `#column density` then the species labels (a `save species column density` file)",
        ));
    };
    let species: Vec<String> = rest
        .trim_start_matches([' ', '\t'])
        .split('\t')
        .map(|s| s.trim().to_string())
        .collect();
    if species.iter().any(String::is_empty) {
        return Err(CloudyError::parse(name, 1, "header: empty species label"));
    }
    Ok(species)
}

fn numbers(
    line: &str,
    line_no: usize,
    name: &str,
    columns: &[String],
) -> Result<Vec<f64>, CloudyError> {
    let vals: Vec<&str> = line.split('\t').map(str::trim).collect();
    if vals.len() != columns.len() {
        return Err(CloudyError::parse(
            name,
            line_no,
            format!("{} values for {} header columns", vals.len(), columns.len()),
        ));
    }
    vals.iter()
        .zip(columns)
        .map(|(v, col)| {
            v.parse::<f64>().map_err(|_| {
                CloudyError::parse(
                    name,
                    line_no,
                    format!("column `{col}`: `{v}` is not a number"),
                )
            })
        })
        .collect()
}

/// Reads a `.col` file of one model: header and one line of values.
pub fn parse_col(text: &str, name: &str) -> Result<ColumnDensities, CloudyError> {
    let blocks = parse_col_blocks(text, name)?;
    match <[ColumnDensities; 1]>::try_from(blocks) {
        Ok([one]) => Ok(one),
        Err(b) => Err(CloudyError::missing(
            name,
            format!("exactly one line of column densities (found {})", b.len()),
        )),
    }
}

/// Reads a `.col` file of a `vary`/`grid` run: one [`ColumnDensities`] per
/// grid point, in grid order (a single model gives one).
pub fn parse_col_blocks(text: &str, name: &str) -> Result<Vec<ColumnDensities>, CloudyError> {
    let mut lines = text.lines().enumerate();
    let species = match lines.next() {
        Some((_, l)) => col_header(l, name)?,
        None => return Err(CloudyError::missing(name, "the `#column density` header")),
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() || line.contains(GRID_DELIMIT) {
            continue;
        }
        let cm2 = numbers(line, i + 1, name, &species)?;
        out.push(ColumnDensities {
            species: species.clone(),
            cm2,
        });
    }
    Ok(out)
}

/// `save overview`: one row per zone of the last iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Column names from the header (`depth`, `Te`, `Htot`, `hden`, `eden`,
    /// `2H_2/H`, `HI`, `HII`, ..., `AV(extend)`).
    pub columns: Vec<String>,
    /// Zone rows, each with one value per column.
    pub rows: Vec<Vec<f64>>,
}

impl Overview {
    /// One column by header name.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[i]).collect())
    }

    /// Depth of each zone centre from the illuminated face (cm).
    pub fn depth_cm(&self) -> Option<Vec<f64>> {
        self.column("depth")
    }

    /// Electron temperature per zone (K).
    pub fn te_k(&self) -> Option<Vec<f64>> {
        self.column("Te")
    }

    /// Total hydrogen density per zone (cm^-3).
    pub fn hden_cm3(&self) -> Option<Vec<f64>> {
        self.column("hden")
    }

    /// Electron density per zone (cm^-3).
    pub fn eden_cm3(&self) -> Option<Vec<f64>> {
        self.column("eden")
    }
}

/// Overview columns the parser requires (the rest are kept by name).
const OVR_REQUIRED: [&str; 5] = ["depth", "Te", "hden", "eden", "HI"];

/// Reads a `.ovr` file of one model.
pub fn parse_ovr(text: &str, name: &str) -> Result<Overview, CloudyError> {
    let mut blocks = parse_ovr_blocks(text, name)?;
    if blocks.len() != 1 {
        return Err(CloudyError::missing(
            name,
            format!("one model's overview (found {} grid blocks)", blocks.len()),
        ));
    }
    Ok(blocks.remove(0))
}

/// Reads a `.ovr` file of a `vary`/`grid` run: one [`Overview`] per grid
/// point (the header is written once; each block ends with a delimiter).
pub fn parse_ovr_blocks(text: &str, name: &str) -> Result<Vec<Overview>, CloudyError> {
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, l)) if l.starts_with('#') => l,
        _ => {
            return Err(CloudyError::parse(
                name,
                1,
                "header: expected a line starting with `#depth`",
            ))
        }
    };
    let columns: Vec<String> = header
        .trim_start_matches('#')
        .split('\t')
        .map(|s| s.trim().to_string())
        .collect();
    for req in OVR_REQUIRED {
        if !columns.iter().any(|c| c == req) {
            return Err(CloudyError::parse(
                name,
                1,
                format!("header: no `{req}` column (is this a `save overview` file?)"),
            ));
        }
    }
    let mut out = Vec::new();
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.contains(GRID_DELIMIT) {
            out.push(Overview {
                columns: columns.clone(),
                rows: std::mem::take(&mut rows),
            });
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        rows.push(numbers(line, i + 1, name, &columns)?);
    }
    if !rows.is_empty() || out.is_empty() {
        out.push(Overview { columns, rows });
    }
    Ok(out)
}

/// One row of a `save grid` (`.grd`) file.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    /// Grid index (0-based, log U varying slowest in the lab's grid).
    pub index: usize,
    /// Cloudy's `Failure?` flag.
    pub failure: bool,
    /// Cloudy's `Warnings?` flag.
    pub warnings: bool,
    /// Exit code text (`ok`).
    pub exit_code: String,
    /// Varied parameter values, in header order (see [`Grd::parameters`]).
    pub values: Vec<f64>,
}

/// A `save grid` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Grd {
    /// Varied-parameter labels as Cloudy cut them (`IONIZATIO`, `STOP COLU`).
    pub parameters: Vec<String>,
    /// One entry per grid point.
    pub points: Vec<GridPoint>,
}

/// Reads a `.grd` file.
pub fn parse_grd(text: &str, name: &str) -> Result<Grd, CloudyError> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, l)) if l.starts_with("#Index") => l.split('\t').collect(),
        _ => {
            return Err(CloudyError::parse(
                name,
                1,
                "header: expected `#Index\\tFailure?...`",
            ))
        }
    };
    // Fixed columns: Index, Failure?, Warnings?, Exit code, #rank, #seq, then
    // the parameters, then `grid parameter string`.
    let last = header.len().saturating_sub(1);
    if header.len() < 8 || header[last] != "grid parameter string" {
        return Err(CloudyError::parse(
            name,
            1,
            "header: expected 6 fixed columns, the varied parameters and `grid parameter string`",
        ));
    }
    let parameters: Vec<String> = header[6..last].iter().map(|s| s.to_string()).collect();
    let flag = |s: &str, line: usize, col: &str| match s.trim() {
        "T" => Ok(true),
        "F" => Ok(false),
        other => Err(CloudyError::parse(
            name,
            line,
            format!("{col}: `{other}` is not T or F"),
        )),
    };
    let mut points = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != header.len() {
            return Err(CloudyError::parse(
                name,
                i + 1,
                format!("{} fields for {} header columns", f.len(), header.len()),
            ));
        }
        let index = f[0].trim().parse::<usize>().map_err(|_| {
            CloudyError::parse(name, i + 1, format!("Index: `{}` is not an integer", f[0]))
        })?;
        let values = f[6..last]
            .iter()
            .zip(&parameters)
            .map(|(v, p)| {
                v.trim().parse::<f64>().map_err(|_| {
                    CloudyError::parse(name, i + 1, format!("{p}: `{v}` is not a number"))
                })
            })
            .collect::<Result<_, _>>()?;
        points.push(GridPoint {
            index,
            failure: flag(f[1], i + 1, "Failure?")?,
            warnings: flag(f[2], i + 1, "Warnings?")?,
            exit_code: f[3].trim().to_string(),
            values,
        });
    }
    Ok(Grd { parameters, points })
}

/// Why a calculation stopped, one per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct StopReason {
    /// Cloudy's text after `Calculation stopped because` (`H column dens reached.`).
    pub reason: String,
    /// Iteration number (1-based).
    pub iteration: u32,
    /// Number of iterations requested.
    pub of: u32,
}

/// One element's row of the final `Log10 Column density (cm^-2)` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementColumns {
    /// Element name as printed (`Hydrogen`, `Carbon`, `Aluminium`).
    pub element: String,
    /// log10 column (cm^-2) per ion stage: `[0]` neutral, `[1]` singly
    /// ionised, ...; -30 means zero. The H2 entry of hydrogen is not here.
    pub log_cm2: Vec<f64>,
}

/// The main output (`.out`) of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudyOutput {
    /// The version line (`Cloudy (trunk, exported, experimental)`).
    pub version: String,
    /// The input deck as echoed in the first `*` box (with `VARY>>>`
    /// markers removed).
    pub input: Vec<String>,
    /// Stop reason of each iteration, in order.
    pub stops: Vec<StopReason>,
    /// log U from the last `Log(U):` banner.
    pub log_u: Option<f64>,
    /// Hydrogen-ionising photon flux Φ(H) (cm^-2 s^-1) of the incident
    /// continuum (`Ion pht flx:`).
    pub phi_h_cm2_s: Option<f64>,
    /// ν F_ν at 912 Å (erg cm^-2 s^-1) of the incident continuum (`nuJnu(912A):`).
    pub nu_f_nu_912_erg_cm2_s: Option<f64>,
    /// Caution lines (`C-...`), each once, in order.
    pub cautions: Vec<String>,
    /// Warning lines (`W-...`), each once, in order.
    pub warnings: Vec<String>,
    /// The final `Log10 Column density (cm^-2)` table (last iteration).
    pub columns: Vec<ElementColumns>,
    /// log10 of the H2 column from that table.
    pub log_h2_cm2: Option<f64>,
    /// Zones of the last iteration, from `Cloudy ends:`.
    pub zones: Option<u32>,
    /// Iterations, from `Cloudy ends:`.
    pub iterations: Option<u32>,
    /// Number of cautions, from `Cloudy ends:` (0 when not printed).
    pub n_cautions: u32,
    /// `ExecTime(s)` from `Cloudy ends:`.
    pub exec_time_s: Option<f64>,
    /// Whether the run printed `Cloudy exited OK`.
    pub exited_ok: bool,
}

impl CloudyOutput {
    /// Whether the model ended as intended: exited OK, no warnings, every
    /// iteration stopped because the requested column was reached.
    pub fn ended_normally(&self) -> bool {
        self.exited_ok
            && self.warnings.is_empty()
            && !self.stops.is_empty()
            && self
                .stops
                .iter()
                .all(|s| s.reason.contains("column dens reached"))
    }

    /// log10 column of an element's ion stage (1 = neutral, as in `C IV` = 4).
    pub fn log_column(&self, element: &str, stage: usize) -> Option<f64> {
        let row = self.columns.iter().find(|r| r.element == element)?;
        row.log_cm2.get(stage.checked_sub(1)?).copied()
    }

    /// log10 total hydrogen column: log(N(H0) + N(H+) + 2 N(H2)).
    pub fn log_nh_cm2(&self) -> Option<f64> {
        let row = self.columns.iter().find(|r| r.element == "Hydrogen")?;
        let lin = |x: f64| 10f64.powf(x);
        let h2 = self.log_h2_cm2.map(lin).unwrap_or(0.0);
        Some(log_floor(
            lin(*row.log_cm2.first()?) + lin(*row.log_cm2.get(1)?) + 2.0 * h2,
        ))
    }
}

/// Splits fixed-width numbers that run together (`-0.002-14.144`,
/// `11.142-30.000`) on a line of Cloudy's mean-quantity tables. Stops at
/// the first token that is not a number (`(H2)`, the table title).
fn fixed_numbers(s: &str) -> Vec<(f64, usize)> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b' ' {
            i += 1;
            continue;
        }
        if !(c == b'-' || c.is_ascii_digit()) {
            break;
        }
        let start = i;
        i += 1;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        match s[start..i].parse::<f64>() {
            Ok(v) => out.push((v, start)),
            Err(_) => break,
        }
    }
    out
}

fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|p| line[p + key.len()..].trim_start())
}

fn first_number(s: &str) -> Option<f64> {
    let tok: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'E' | 'e'))
        .collect();
    tok.parse().ok()
}

/// Reads the main output of one model (a separate run, or one block of a
/// `vary`/`grid` run as returned by [`split_grid_out`]).
pub fn parse_out(text: &str, name: &str) -> Result<CloudyOutput, CloudyError> {
    let lines: Vec<&str> = text.lines().collect();
    let version = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("Cloudy ("))
        .ok_or_else(|| CloudyError::missing(name, "the version line `Cloudy (...)`"))?
        .to_string();

    // The first echo box: from the first line of stars to the next.
    let mut input = Vec::new();
    let box_start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("*****"))
        .ok_or_else(|| CloudyError::missing(name, "the input echo box (a line of `*`)"))?;
    let mut closed = false;
    for l in &lines[box_start + 1..] {
        let t = l.trim();
        let t = t.strip_prefix("VARY>>>").map(str::trim_start).unwrap_or(t);
        if t.starts_with("*****") {
            closed = true;
            break;
        }
        let Some(body) = t.strip_prefix('*') else {
            break;
        };
        // Lines wider than the box carry their closing `*` right after the text.
        let body = body.strip_suffix('*').unwrap_or(body).trim();
        if !body.is_empty() {
            input.push(body.to_string());
        }
    }
    if !closed {
        return Err(CloudyError::parse(
            name,
            box_start + 1,
            "input echo box is not closed by a line of `*`",
        ));
    }

    let mut out = CloudyOutput {
        version,
        input,
        stops: Vec::new(),
        log_u: None,
        phi_h_cm2_s: None,
        nu_f_nu_912_erg_cm2_s: None,
        cautions: Vec::new(),
        warnings: Vec::new(),
        columns: Vec::new(),
        log_h2_cm2: None,
        zones: None,
        iterations: None,
        n_cautions: 0,
        exec_time_s: None,
        exited_ok: false,
    };
    let mut column_table: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if let Some(rest) = after(t, "Calculation stopped because") {
            let (reason, it) = rest.split_once("Iteration").ok_or_else(|| {
                CloudyError::parse(name, i + 1, "stop reason: no `Iteration i of n`")
            })?;
            let mut nums = it.split_whitespace().filter_map(|w| w.parse::<u32>().ok());
            let (Some(iteration), Some(of)) = (nums.next(), nums.next()) else {
                return Err(CloudyError::parse(
                    name,
                    i + 1,
                    "stop reason: `Iteration i of n` unreadable",
                ));
            };
            out.stops.push(StopReason {
                reason: reason.trim().to_string(),
                iteration,
                of,
            });
        } else if let Some(rest) = after(t, "> Log(U):") {
            out.log_u = Some(
                first_number(rest)
                    .ok_or_else(|| CloudyError::parse(name, i + 1, "Log(U): no number"))?,
            );
        } else if t.starts_with("C-") {
            if !out.cautions.iter().any(|c| c == t) {
                out.cautions.push(t.to_string());
            }
        } else if t.starts_with("W-") {
            if !out.warnings.iter().any(|c| c == t) {
                out.warnings.push(t.to_string());
            }
        } else if t.contains("Log10 Column density (cm^-2)") {
            column_table = Some(i);
        } else if let Some(rest) = after(t, "Cloudy ends:") {
            let num_before = |key: &str| {
                rest.split(',')
                    .find(|p| p.contains(key))
                    .and_then(|p| p.split_whitespace().next())
                    .and_then(|w| w.parse::<u32>().ok())
            };
            out.zones = num_before("zone");
            out.iterations = num_before("iteration");
            out.n_cautions = num_before("caution").unwrap_or(0);
            out.exec_time_s = after(rest, "ExecTime(s)").and_then(first_number);
        } else if t.contains("Cloudy exited OK") {
            out.exited_ok = true;
        }
        if out.phi_h_cm2_s.is_none() {
            out.phi_h_cm2_s = after(t, "Ion pht flx:").and_then(first_number);
        }
        if out.nu_f_nu_912_erg_cm2_s.is_none() {
            out.nu_f_nu_912_erg_cm2_s = after(t, "nuJnu(912A):").and_then(first_number);
        }
    }
    if out.stops.is_empty() && out.zones != Some(0) {
        return Err(CloudyError::missing(
            name,
            "a `Calculation stopped because` line",
        ));
    }
    if let Some(start) = column_table {
        parse_column_table(&lines, start, name, &mut out)?;
    }
    Ok(out)
}

fn parse_column_table(
    lines: &[&str],
    start: usize,
    name: &str,
    out: &mut CloudyOutput,
) -> Result<(), CloudyError> {
    for (k, l) in lines[start..].iter().enumerate() {
        let line_no = start + k + 1;
        let t = l.trim_start();
        if t.is_empty() || t.starts_with("Exc state") {
            break;
        }
        if t.starts_with('-') || t.starts_with(|c: char| c.is_ascii_digit()) {
            // A continuation of the previous element's row.
            let row = out.columns.last_mut().ok_or_else(|| {
                CloudyError::parse(name, line_no, "column table: numbers before any element")
            })?;
            row.log_cm2
                .extend(fixed_numbers(t).into_iter().map(|(v, _)| v));
            continue;
        }
        let name_end = t.find(' ').unwrap_or(t.len());
        let element = &t[..name_end];
        if !element.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(CloudyError::parse(
                name,
                line_no,
                format!("column table: `{element}` is not an element name"),
            ));
        }
        let rest = &t[name_end..];
        let nums = fixed_numbers(rest);
        if nums.is_empty() {
            return Err(CloudyError::parse(
                name,
                line_no,
                format!("column table: no columns for {element}"),
            ));
        }
        let mut log_cm2: Vec<f64> = nums.iter().map(|(v, _)| *v).collect();
        if element == "Hydrogen" {
            // Hydrogen's third number is H2, labelled `(H2)`.
            if log_cm2.len() == 3 && rest.contains("(H2)") {
                out.log_h2_cm2 = log_cm2.pop();
            }
        }
        out.columns.push(ElementColumns {
            element: element.to_string(),
            log_cm2,
        });
    }
    Ok(())
}

/// A `vary`/`grid` run's `.out`: the grid driver's preamble, then one text
/// block per grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct GridOut<'a> {
    /// The preamble (banner, deck echo with `VARY>>>`, the 0-zone dummy run).
    pub preamble: &'a str,
    /// (grid index, that model's output text), in file order.
    pub models: Vec<(usize, &'a str)>,
}

/// Splits a `vary`/`grid` `.out` on Cloudy's `GRID_DELIMIT` lines (each
/// model is followed by `... GRID_DELIMIT -- gridNNNNNNNNN`).
pub fn split_grid_out<'a>(text: &'a str, name: &str) -> Result<GridOut<'a>, CloudyError> {
    let mut preamble = None;
    let mut models = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let end = pos + line.len();
        if line.contains(GRID_DELIMIT) {
            let block = &text[start..pos];
            match line.split("-- grid").nth(1) {
                None if preamble.is_none() => preamble = Some(block),
                None => {
                    return Err(CloudyError::parse(
                        name,
                        i + 1,
                        "GRID_DELIMIT without a grid index after the preamble",
                    ))
                }
                Some(idx) => {
                    let idx = idx.trim().parse::<usize>().map_err(|_| {
                        CloudyError::parse(
                            name,
                            i + 1,
                            format!("GRID_DELIMIT: grid index `{}` unreadable", idx.trim()),
                        )
                    })?;
                    models.push((idx, block));
                }
            }
            start = end;
        }
        pos = end;
    }
    let preamble = preamble.ok_or_else(|| {
        CloudyError::missing(name, "a `GRID_DELIMIT` line (is this a vary/grid run?)")
    })?;
    Ok(GridOut { preamble, models })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_together_numbers_split() {
        let v: Vec<f64> = fixed_numbers("   -3.514 -0.000-17.954 (H2)  Log10")
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(v, vec![-3.514, -0.0, -17.954]);
        let v: Vec<f64> = fixed_numbers(" 8.178-30.000")
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(v, vec![8.178, -30.0]);
    }

    #[test]
    fn species_labels() {
        assert_eq!(species_label("C IV").as_deref(), Some("C+3"));
        assert_eq!(species_label("H I").as_deref(), Some("H"));
        assert_eq!(species_label("Mg II").as_deref(), Some("Mg+"));
        assert_eq!(species_label("Ne VIII").as_deref(), Some("Ne+7"));
        assert_eq!(species_label("Al III").as_deref(), Some("Al+2"));
        assert_eq!(species_label("C 4"), None);
    }

    #[test]
    fn col_errors_name_line_and_column() {
        let e = parse_col("#column density H\tC+3\n1e20\tx\n", "m.col").unwrap_err();
        assert_eq!(e.to_string(), "m.col:2: column `C+3`: `x` is not a number");
        let e = parse_col("#column density\tH\tC+3\n1e20\n", "m.col").unwrap_err();
        assert!(
            e.to_string().contains("1 values for 2 header columns"),
            "{e}"
        );
        let e = parse_col("depth\tTe\n", "m.col").unwrap_err();
        assert!(e.to_string().contains("`#column density`"), "{e}");
        let c = parse_col("#column density\tH\tC+3\n1e20\t0\n", "m.col").expect("valid");
        assert_eq!(c.log10("H"), Some(20.0));
        assert_eq!(c.log10("C+3"), Some(LOG_ZERO));
    }

    #[test]
    fn ovr_needs_its_columns() {
        let e = parse_ovr("#depth\tTe\n1\t2\n", "m.ovr").unwrap_err();
        assert!(e.to_string().contains("no `hden` column"), "{e}");
    }
}
