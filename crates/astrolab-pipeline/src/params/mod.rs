//! Typed pipeline parameters: one struct per pipeline, deriving clap's
//! `Args` (the CLI flags) and serde's `Serialize` (the resolved parameters
//! a run records), so the CLI, the server's JSON, the run record and the
//! API's parameter schema all come from one declaration.
//!
//! JSON parameters become a struct through clap itself: each JSON field is
//! turned into the argument its declaration names (`--flag=value`, a
//! switch, or a positional), and clap parses them with the same value
//! parsers, ranges and defaults as the command line ([`parse_json`]). The
//! reverse ([`to_args`]) gives the argument list of a struct, which the
//! server's subprocess workers pass to `astrolab`; a test checks that every
//! pipeline's parameters survive JSON -> struct -> arguments -> struct.
//! Field names are clap's argument ids (the Rust field names, snake_case),
//! which are also the serde names.

pub mod defs;

use std::any::TypeId;
use std::path::PathBuf;

use clap::{ArgAction, Args, FromArgMatches};
use serde::Serialize;
use serde_json::{Map, Value};

/// A parameter that cannot be used, named as `params.NAME` (the request
/// field) with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// `params.NAME`, or `params` for the object as a whole.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ParamError {
    fn new(name: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            field: if name.is_empty() {
                "params".into()
            } else {
                format!("params.{name}")
            },
            message: message.into(),
        }
    }
}

/// JSON type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// A JSON integer.
    Int,
    /// A JSON number.
    Float,
    /// A JSON string.
    Str,
    /// A path (JSON string) to an existing file or directory.
    Path,
    /// true or false.
    Bool,
}

/// One parameter, as the API's schema lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Name in the JSON object (the clap id).
    pub name: String,
    /// Type of one value.
    pub kind: ParamKind,
    /// Takes a JSON array of values.
    pub list: bool,
    /// Must be given.
    pub required: bool,
    /// Allowed values, when the declaration lists them.
    pub choices: Vec<String>,
    /// Default, as command-line text.
    pub default: Option<String>,
    /// What it means (the `--help` line).
    pub doc: String,
    /// The command-line flag (`--omega-m`), or none for a positional.
    pub flag: Option<String>,
}

fn command_of<T: Args>() -> clap::Command {
    T::augment_args(clap::Command::new("params").no_binary_name(true))
}

fn kind_of(arg: &clap::Arg) -> ParamKind {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return ParamKind::Bool;
    }
    let t = arg.get_value_parser().type_id();
    let ints = [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
    ];
    if t == TypeId::of::<PathBuf>() {
        ParamKind::Path
    } else if t == TypeId::of::<f64>() || t == TypeId::of::<f32>() {
        ParamKind::Float
    } else if ints.iter().any(|i| t == *i) {
        ParamKind::Int
    } else {
        ParamKind::Str
    }
}

fn takes_many(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|r| r.max_values() > 1)
}

/// The parameters of `T`, in declaration order (help and version left out).
pub fn specs<T: Args>() -> Vec<ParamSpec> {
    command_of::<T>()
        .get_arguments()
        .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
        .map(|a| ParamSpec {
            name: a.get_id().as_str().to_string(),
            kind: kind_of(a),
            list: takes_many(a),
            required: a.is_required_set(),
            choices: if kind_of(a) == ParamKind::Bool {
                Vec::new()
            } else {
                a.get_possible_values()
                    .iter()
                    .filter(|p| !p.is_hide_set())
                    .map(|p| p.get_name().to_string())
                    .collect()
            },
            default: a
                .get_default_values()
                .first()
                .map(|d| d.to_string_lossy().into_owned()),
            doc: a.get_help().map(|h| h.to_string()).unwrap_or_default(),
            flag: a.get_long().map(|l| format!("--{l}")),
        })
        .collect()
}

/// One JSON scalar as command-line text; `None` for anything else.
fn scalar_text(spec: &ParamSpec, v: &Value) -> Result<String, ParamError> {
    let bad = |what: &str| ParamError::new(&spec.name, format!("must be {what}"));
    match (spec.kind, v) {
        (ParamKind::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        (ParamKind::Int, _) => Err(bad("an integer")),
        (ParamKind::Float, Value::Number(n)) => Ok(n.to_string()),
        (ParamKind::Float, _) => Err(bad("a number")),
        (ParamKind::Str | ParamKind::Path, Value::String(s)) => {
            if s.chars().any(|c| c.is_control()) {
                Err(bad("a string without control characters"))
            } else {
                Ok(s.clone())
            }
        }
        (ParamKind::Path, _) => Err(bad("a path (string)")),
        (ParamKind::Str, _) => Err(bad("a string")),
        (ParamKind::Bool, _) => Err(bad("true or false")),
    }
}

/// The command-line arguments that `params` (a JSON object) stands for,
/// checked against the declaration of `T`: unknown fields, wrong JSON
/// types and control characters are refused naming the field. Values are
/// passed as one `--flag=value` argument each and positionals after `--`,
/// so no value can become a flag of its own.
pub fn json_to_args<T: Args>(params: &Value) -> Result<Vec<String>, ParamError> {
    let obj: Map<String, Value> = match params {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err(ParamError::new("", "must be a JSON object")),
    };
    let specs = specs::<T>();
    for k in obj.keys() {
        if !specs.iter().any(|s| &s.name == k) {
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(ParamError::new(
                k,
                format!("unknown parameter (known: {})", known.join(", ")),
            ));
        }
    }
    let mut flags = Vec::new();
    let mut positionals = Vec::new();
    for s in &specs {
        let Some(v) = obj.get(&s.name) else { continue };
        if v.is_null() {
            continue;
        }
        if s.kind == ParamKind::Bool {
            match v {
                Value::Bool(true) => flags.push(s.flag.clone().unwrap_or_default()),
                Value::Bool(false) => {}
                _ => return Err(ParamError::new(&s.name, "must be true or false")),
            }
            continue;
        }
        let values: Vec<String> = if s.list {
            match v {
                Value::Array(a) => a
                    .iter()
                    .map(|x| scalar_text(s, x))
                    .collect::<Result<_, _>>()?,
                _ => return Err(ParamError::new(&s.name, "must be a JSON array")),
            }
        } else {
            vec![scalar_text(s, v)?]
        };
        match &s.flag {
            Some(f) => flags.extend(values.into_iter().map(|x| format!("{f}={x}"))),
            None => positionals.extend(values),
        }
    }
    if !positionals.is_empty() {
        flags.push("--".into());
        flags.extend(positionals);
    }
    Ok(flags)
}

/// Parses command-line arguments (without a program name) into `T`; a
/// clap error is given back naming the field it is about.
pub fn parse_args<T: Args + FromArgMatches>(args: &[String]) -> Result<T, ParamError> {
    let cmd = command_of::<T>();
    let specs = specs::<T>();
    let m = cmd
        .try_get_matches_from(args)
        .map_err(|e| clap_error(&e, &specs))?;
    T::from_arg_matches(&m).map_err(|e| clap_error(&e, &specs))
}

/// A clap error as a [`ParamError`]: the argument it names mapped back to
/// its field (clap writes `--omega-m <OMEGA_M>` or `<CATALOG>`).
fn clap_error(e: &clap::Error, specs: &[ParamSpec]) -> ParamError {
    use clap::error::{ContextKind, ContextValue};
    let named = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let field = named
        .and_then(|n| {
            specs.iter().find(|s| {
                let upper = format!("<{}>", s.name.to_ascii_uppercase());
                s.flag
                    .as_ref()
                    .is_some_and(|f| n == *f || n.starts_with(&format!("{f} ")))
                    || n.starts_with(&upper)
            })
        })
        .map(|s| s.name.clone())
        .unwrap_or_default();
    // clap's message without its "error: " prefix and usage lines.
    let text = e.to_string();
    let message = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string();
    ParamError::new(&field, message)
}

/// JSON parameters into `T`: [`json_to_args`] then [`parse_args`], so
/// defaults, ranges and conflicts are those of the command line.
pub fn parse_json<T: Args + FromArgMatches>(params: &Value) -> Result<T, ParamError> {
    parse_args(&json_to_args::<T>(params)?)
}

/// The argument list that parses back into `p` (for a subprocess).
pub fn to_args<T: Args + Serialize>(p: &T) -> Result<Vec<String>, ParamError> {
    json_to_args::<T>(&resolved(p)?)
}

/// `p` as its JSON parameters, defaults included (what a run records).
pub fn resolved<T: Serialize>(p: &T) -> Result<Value, ParamError> {
    serde_json::to_value(p).map_err(|e| ParamError::new("", e.to_string()))
}
