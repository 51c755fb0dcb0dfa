//! Cloudy input decks for a quasar-outflow grid (Cloudy's "Hazy 1" manual,
//! commands `table AGN`, `ionization parameter`, `hden`, `stop column
//! density`, `vary`/`grid`, `save ... last`).
//!
//! The decks reproduce, line for line, the ones in the lab's data
//! (`cloudy/grid-agn-logn4/*.in`): Mathews & Ferland (1987, ApJ 323, 456)
//! continuum, constant density, plane-parallel open geometry, default
//! solar abundances, background cosmic rays, `stop temperature off` so that
//! N_H is always reached, two iterations, and `save overview` /
//! `save species column density` of the last iteration.

use crate::cloudy::CloudyError;

/// The species saved by `save species column density` in the lab's grid:
/// H I = `H`, C IV = `C+3`, Si IV = `Si+3`, N V = `N+4`, Mg II = `Mg+`,
/// Al III = `Al+2`, O VI = `O+5`, Ne VIII = `Ne+7`, and the ions around
/// them, in the order of the real decks.
pub const DEFAULT_SPECIES: [&str; 21] = [
    "H", "H+", "H2", "He", "He+", "He+2", "C+", "C+2", "C+3", "N+2", "N+4", "O", "O+5", "Ne+7",
    "Mg+", "Al+2", "Si+", "Si+2", "Si+3", "S+3", "Fe+",
];

/// One model of the grid: a single deck.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDeck {
    /// log10 of the total hydrogen density n_H (cm^-3).
    pub log_hden_cm3: f64,
    /// log10 of the ionization parameter U = Q_H / (4 pi r^2 n_H c).
    pub log_u: f64,
    /// log10 of the total hydrogen column N_H (cm^-2) at which Cloudy stops.
    pub log_nh_cm2: f64,
    /// Species for `save species column density`.
    pub species: Vec<String>,
}

impl ModelDeck {
    /// A model with the [`DEFAULT_SPECIES`].
    pub fn new(log_hden_cm3: f64, log_u: f64, log_nh_cm2: f64) -> Self {
        ModelDeck {
            log_hden_cm3,
            log_u,
            log_nh_cm2,
            species: DEFAULT_SPECIES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// File stem in the data's style, `agn_n4_Um1_N20` (`m` for minus; a
    /// fractional value writes `p` for the point: `Um1p5`).
    pub fn stem(&self) -> String {
        format!(
            "agn_n{}_U{}_N{}",
            tag(self.log_hden_cm3),
            tag(self.log_u),
            tag(self.log_nh_cm2)
        )
    }

    /// The deck text, one command per line, ending in a newline.
    pub fn text(&self) -> String {
        let stem = self.stem();
        let mut out = format!(
            "title quasar outflow: table AGN, log n(H)={}, log U={}, log N(H)={}\n",
            short(self.log_hden_cm3),
            value(self.log_u),
            value(self.log_nh_cm2)
        );
        out.push_str(CONTINUUM);
        out.push_str(&format!("ionization parameter {}\n", value(self.log_u)));
        out.push_str(&format!("hden {}\n", value(self.log_hden_cm3)));
        out.push_str(COSMIC_RAYS);
        out.push_str(&format!("stop column density {}\n", value(self.log_nh_cm2)));
        out.push_str(TAIL);
        out.push_str(&format!("save overview \"{stem}.ovr\" last\n"));
        push_species(&mut out, &stem, &self.species);
        out
    }

    /// The deck as a named file.
    pub fn named(&self) -> NamedDeck {
        NamedDeck {
            stem: self.stem(),
            text: self.text(),
        }
    }
}

/// A deck with the stem Cloudy is run on (`STEM.in` in, `STEM.out` out).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedDeck {
    /// File stem, e.g. `agn_n4_Um1_N20`.
    pub stem: String,
    /// The deck text.
    pub text: String,
}

impl NamedDeck {
    /// Arguments for the Cloudy executable, run in the folder that holds
    /// `STEM.in`: `-r STEM` reads `STEM.in` and writes `STEM.out` (the
    /// command the lab's grid was made with, see the data README).
    pub fn cloudy_args(&self) -> [String; 2] {
        ["-r".to_string(), self.stem.clone()]
    }
}

/// One varied axis: values `lo, lo + step, ..., hi`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridAxis {
    /// First value.
    pub lo: f64,
    /// Last value (included).
    pub hi: f64,
    /// Increment, > 0.
    pub step: f64,
}

impl GridAxis {
    /// The values on the axis, `hi` included (to a hundredth of a step).
    pub fn values(&self) -> Vec<f64> {
        if self.step.is_nan() || self.step <= 0.0 || self.hi < self.lo {
            return Vec::new();
        }
        let n = ((self.hi - self.lo) / self.step + 0.01).floor() as usize;
        (0..=n).map(|i| self.lo + i as f64 * self.step).collect()
    }
}

/// A grid at fixed n_H over log U x log N_H.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSpec {
    /// log10 n_H (cm^-3).
    pub log_hden_cm3: f64,
    /// log U axis.
    pub log_u: GridAxis,
    /// log N_H (cm^-2) axis.
    pub log_nh_cm2: GridAxis,
    /// Species for `save species column density`.
    pub species: Vec<String>,
}

impl GridSpec {
    /// The issue's grid: log U = -4..-1 and log N_H = 19..23 in `step` dex.
    pub fn issue19(log_hden_cm3: f64, step: f64) -> Self {
        GridSpec {
            log_hden_cm3,
            log_u: GridAxis {
                lo: -4.0,
                hi: -1.0,
                step,
            },
            log_nh_cm2: GridAxis {
                lo: 19.0,
                hi: 23.0,
                step,
            },
            species: DEFAULT_SPECIES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// One separate deck per model, log U varying slowest (the order of
    /// Cloudy's own grid).
    pub fn separate_decks(&self) -> Vec<NamedDeck> {
        let mut decks = Vec::new();
        for u in self.log_u.values() {
            for n in self.log_nh_cm2.values() {
                let mut m = ModelDeck::new(self.log_hden_cm3, u, n);
                m.species = self.species.clone();
                decks.push(m.named());
            }
        }
        decks
    }

    /// A single deck with Cloudy's `vary` / `grid ... sequential` commands
    /// (as `vary_grid/agn_n4_grid.in`), plus `save grid`.
    pub fn vary_deck(&self) -> NamedDeck {
        let stem = format!("agn_n{}_grid", tag(self.log_hden_cm3));
        let list = |a: &GridAxis| {
            a.values()
                .iter()
                .map(|v| short(*v))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mid = |a: &GridAxis| value(0.5 * (a.lo + a.hi));
        let grid = |a: &GridAxis| {
            format!(
                "grid {} {} {} sequential\n",
                short(a.lo),
                short(a.hi),
                short(a.step)
            )
        };
        let mut out = format!(
            "title quasar outflow grid: table AGN, log n(H)={}, log U={} x log N(H)={}\n",
            short(self.log_hden_cm3),
            list(&self.log_u),
            list(&self.log_nh_cm2)
        );
        out.push_str(CONTINUUM);
        // Cloudy needs a value before `vary`; the grid command replaces it.
        out.push_str(&format!("ionization parameter {} vary\n", mid(&self.log_u)));
        out.push_str(&grid(&self.log_u));
        out.push_str(&format!("hden {}\n", value(self.log_hden_cm3)));
        out.push_str(COSMIC_RAYS);
        out.push_str(&format!(
            "stop column density {} vary\n",
            mid(&self.log_nh_cm2)
        ));
        out.push_str(&grid(&self.log_nh_cm2));
        out.push_str(TAIL);
        out.push_str(&format!("save grid \"{stem}.grd\" last\n"));
        out.push_str(&format!("save overview \"{stem}.ovr\" last\n"));
        push_species(&mut out, &stem, &self.species);
        NamedDeck { stem, text: out }
    }
}

const CONTINUUM: &str = "# Mathews & Ferland (1987) AGN continuum shipped with Cloudy\ntable AGN\n";
const COSMIC_RAYS: &str = "# default Cloudy solar abundances (data/abundances/default.abn), no grains\n\
# galactic background cosmic rays, so that the neutral gas beyond the H ionization front has a source of ionization\n\
cosmic rays background\n";
const TAIL: &str = "# do not stop at the default 4000 K floor, so that N(H) is always reached\n\
stop temperature off\n\
iterate\n\
# the Cloudy snapshot used lacks data/UTA/UTA_Kisielius.dat (see README)\n\
set UTA Kisielius off\n";

fn push_species(out: &mut String, stem: &str, species: &[String]) {
    out.push_str(&format!(
        "save species column density \"{stem}.col\" last\n"
    ));
    for s in species {
        out.push_str(&format!("\"{s}\"\n"));
    }
    out.push_str("end\n");
}

/// A deck value as the real decks write it: one decimal (`-1.0`, `20.0`),
/// more only when needed.
fn value(x: f64) -> String {
    if ((x * 10.0).round() - x * 10.0).abs() < 1e-9 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// The shortest form (`4`, `-3`, `0.5`), as in titles and `grid` lines.
fn short(x: f64) -> String {
    format!("{}", x + 0.0)
}

/// File-name tag: `m` for minus, `p` for the decimal point.
fn tag(x: f64) -> String {
    let body = short(x.abs()).replace('.', "p");
    if x < 0.0 {
        format!("m{body}")
    } else {
        body
    }
}

/// What a deck sets, read back from its text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeckSummary {
    /// The `title` line's text.
    pub title: Option<String>,
    /// Every command line, comments (`#`) and the species list excluded.
    pub commands: Vec<String>,
    /// The continuum command (`table AGN`).
    pub continuum: Option<String>,
    /// `ionization parameter` value, and its grid if varied.
    pub log_u: Option<(f64, Option<GridAxis>)>,
    /// `hden` value.
    pub log_hden_cm3: Option<f64>,
    /// `stop column density` value, and its grid if varied.
    pub log_nh_cm2: Option<(f64, Option<GridAxis>)>,
    /// `save` commands: (what is saved, file name, `last`?).
    pub saves: Vec<(String, String, bool)>,
    /// The quoted species list after `save species column density`.
    pub species: Vec<String>,
    /// Whether the deck iterates.
    pub iterate: bool,
}

/// Reads a Cloudy deck (`name` is used in errors). Commands this reader does
/// not interpret are kept in [`DeckSummary::commands`].
pub fn parse_deck(text: &str, name: &str) -> Result<DeckSummary, CloudyError> {
    let mut d = DeckSummary::default();
    let mut in_species = false;
    // Which varied parameter a following `grid` line belongs to.
    let mut last_varied: Option<&'static str> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if in_species {
            if line.eq_ignore_ascii_case("end") {
                in_species = false;
            } else {
                let sp = line.trim_matches('"');
                if sp.is_empty() || !line.starts_with('"') {
                    return Err(CloudyError::parse(
                        name,
                        line_no,
                        format!("species list: expected a quoted species or `end`, found `{line}`"),
                    ));
                }
                d.species.push(sp.to_string());
            }
            continue;
        }
        d.commands.push(line.to_string());
        let lower = line.to_ascii_lowercase();
        let number_after = |prefix: &str, what: &str| -> Result<f64, CloudyError> {
            let rest = line[prefix.len()..].trim_start_matches(['=', ' ']);
            let tok = rest.split_whitespace().next().unwrap_or("");
            tok.parse::<f64>().map_err(|_| {
                CloudyError::parse(name, line_no, format!("{what}: `{tok}` is not a number"))
            })
        };
        if lower.starts_with("title") {
            d.title = Some(line[5..].trim().to_string());
        } else if lower.starts_with("table ") {
            d.continuum = Some(line.to_string());
        } else if lower.starts_with("ionization parameter") {
            let v = number_after("ionization parameter", "ionization parameter")?;
            d.log_u = Some((v, None));
            last_varied = lower.contains(" vary").then_some("u");
        } else if lower.starts_with("hden") {
            d.log_hden_cm3 = Some(number_after("hden", "hden")?);
            last_varied = None;
        } else if lower.starts_with("stop column density") {
            let v = number_after("stop column density", "stop column density")?;
            d.log_nh_cm2 = Some((v, None));
            last_varied = lower.contains(" vary").then_some("nh");
        } else if lower.starts_with("grid ") {
            let nums: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map_while(|t| t.parse::<f64>().ok())
                .collect();
            if nums.len() < 3 {
                return Err(CloudyError::parse(
                    name,
                    line_no,
                    format!("grid: expected `grid LO HI STEP`, found `{line}`"),
                ));
            }
            let axis = GridAxis {
                lo: nums[0],
                hi: nums[1],
                step: nums[2],
            };
            let slot = match last_varied {
                Some("u") => &mut d.log_u,
                Some("nh") => &mut d.log_nh_cm2,
                _ => {
                    return Err(CloudyError::parse(
                        name,
                        line_no,
                        "grid: no `vary` command (ionization parameter or stop column density) before it",
                    ))
                }
            };
            if let Some((_, g)) = slot.as_mut() {
                *g = Some(axis);
            }
            last_varied = None;
        } else if lower.starts_with("iterate") {
            d.iterate = true;
        } else if lower.starts_with("save ") {
            let (Some(q0), Some(q1)) = (line.find('"'), line.rfind('"')) else {
                return Err(CloudyError::parse(
                    name,
                    line_no,
                    format!("save: no quoted file name in `{line}`"),
                ));
            };
            if q1 <= q0 {
                return Err(CloudyError::parse(
                    name,
                    line_no,
                    format!("save: unterminated file name in `{line}`"),
                ));
            }
            let what = line[5..q0].trim().to_string();
            let file = line[q0 + 1..q1].to_string();
            let last = line[q1 + 1..].split_whitespace().any(|t| t == "last");
            in_species = what.eq_ignore_ascii_case("species column density");
            d.saves.push((what, file, last));
        }
    }
    if in_species {
        return Err(CloudyError::missing(
            name,
            "`end` closing the species list of `save species column density`",
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_values() {
        assert_eq!(ModelDeck::new(4.0, -1.0, 20.0).stem(), "agn_n4_Um1_N20");
        assert_eq!(ModelDeck::new(4.0, -1.5, 20.5).stem(), "agn_n4_Um1p5_N20p5");
        assert_eq!(value(-1.0), "-1.0");
        assert_eq!(value(-1.25), "-1.25");
        assert_eq!(short(0.0), "0");
    }

    #[test]
    fn issue_grid_has_every_model_once() {
        let g = GridSpec::issue19(4.0, 0.5);
        let decks = g.separate_decks();
        // log U: 7 values, log N_H: 9 values.
        assert_eq!(decks.len(), 7 * 9);
        assert_eq!(decks[0].stem, "agn_n4_Um4_N19");
        assert_eq!(decks[62].stem, "agn_n4_Um1_N23");
        assert_eq!(decks[1].cloudy_args(), ["-r", "agn_n4_Um4_N19p5"]);
    }

    #[test]
    fn deck_reads_back() {
        let m = ModelDeck::new(4.0, -2.5, 21.5);
        let d = parse_deck(&m.text(), "x.in").expect("our own deck parses");
        assert_eq!(d.log_u, Some((-2.5, None)));
        assert_eq!(d.log_nh_cm2, Some((21.5, None)));
        assert_eq!(d.log_hden_cm3, Some(4.0));
        assert_eq!(d.species.len(), DEFAULT_SPECIES.len());
        assert!(d.iterate);
        let v = GridSpec::issue19(4.0, 1.0).vary_deck();
        let d = parse_deck(&v.text, "g.in").expect("vary deck parses");
        let axis = d.log_u.and_then(|(_, g)| g).expect("log U varied");
        assert_eq!(axis.values(), vec![-4.0, -3.0, -2.0, -1.0]);
    }

    #[test]
    fn bad_decks_name_the_line() {
        let e = parse_deck("hden four\n", "bad.in").unwrap_err().to_string();
        assert!(e.starts_with("bad.in:1: hden"), "{e}");
        let e = parse_deck("grid 1 2 1\n", "bad.in")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `vary`"), "{e}");
        let e = parse_deck("save species column density \"a.col\"\n\"H\"\n", "s.in")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`end`"), "{e}");
    }
}
