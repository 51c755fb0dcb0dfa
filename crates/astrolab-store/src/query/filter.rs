//! `--where` filters: a small SQL-like expression language compiled to a
//! parameterised WHERE clause.
//!
//! Grammar (case-insensitive keywords):
//! ```text
//! expr    := and ("OR" and)*
//! and     := unary ("AND" unary)*
//! unary   := "NOT" unary | "(" expr ")" | cond
//! cond    := column op literal
//!          | column "&" integer            -- bit test: (column & n) != 0
//!          | column "BETWEEN" literal "AND" literal
//!          | column "IN" "(" literal ("," literal)* ")"
//!          | column "IS" ["NOT"] "NULL"
//! op      := = | == | != | <> | < | <= | > | >=
//! literal := number | 'string' | TRUE | FALSE
//! ```
//! Column names are checked against the table spec and literals are bound
//! as parameters, so a filter can never inject SQL. Parentheses and `NOT`
//! nest at most [`MAX_DEPTH`] deep: the parser is recursive, and a filter
//! of 100 000 `(` would otherwise overflow the stack and kill the process.

use crate::error::{Result, StoreError};
use crate::schema::{ColType, TableSpec};
use crate::value::Value;

/// How deep parentheses and `NOT` may nest in one filter. Real filters
/// nest two or three levels; 64 leaves room for generated ones while
/// keeping the recursive parser far from the end of a thread's stack.
pub const MAX_DEPTH: usize = 64;

/// A compiled filter: SQL text with numbered placeholders, and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The condition, with placeholders `{p}N` where `{p}` is `?` (SQLite)
    /// or `$` (PostgreSQL) and N counts from `first`.
    pub sql: String,
    /// Parameter values in order.
    pub params: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(String),
    Str(String),
    Op(String),
    LParen,
    RParen,
    Comma,
    Amp,
}

fn lex(s: &str) -> Result<Vec<Tok>> {
    let bad = |m: String| StoreError::bad_request("--where", m);
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if ch == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if ch == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if ch == '&' {
            out.push(Tok::Amp);
            i += 1;
        } else if ch == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err(bad("unterminated string literal".into())),
                    Some('\'') if c.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&x) => {
                        v.push(x);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(v));
        } else if "=!<>".contains(ch) {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let op = if ["==", "!=", "<>", "<=", ">="].contains(&two.as_str()) {
                two
            } else if ch == '!' {
                return Err(bad("'!' must be followed by '='".into()));
            } else {
                ch.to_string()
            };
            i += op.len();
            out.push(Tok::Op(op));
        } else if ch.is_ascii_digit() || ch == '.' || ch == '-' || ch == '+' {
            let start = i;
            i += 1;
            while i < c.len()
                && (c[i].is_ascii_alphanumeric()
                    || c[i] == '.'
                    || ((c[i] == '-' || c[i] == '+') && matches!(c[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(Tok::Num(c[start..i].iter().collect()));
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else {
            return Err(bad(format!("unexpected character {ch:?} at position {i}")));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    table: &'a TableSpec,
    params: Vec<Value>,
    marker: char,
    first: usize,
    /// Open parentheses and `NOT`s around the current position.
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, m: impl Into<String>) -> StoreError {
        StoreError::bad_request("--where", m)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if let Some(Tok::Ident(s)) = self.peek() {
            if s.eq_ignore_ascii_case(kw) {
                self.pos += 1;
                return true;
            }
        }
        false
    }

    fn param(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("{}{}", self.marker, self.first + self.params.len() - 1)
    }

    fn expr(&mut self) -> Result<String> {
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" OR "))
        })
    }

    fn and(&mut self) -> Result<String> {
        let mut parts = vec![self.unary()?];
        while self.keyword("AND") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" AND "))
        })
    }

    /// Enters one more level of `(` or `NOT`, refusing past [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!(
                "the filter nests parentheses and NOT more than {MAX_DEPTH} deep; \
                 flatten it (a AND b AND c needs no parentheses)"
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<String> {
        if self.keyword("NOT") {
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(format!("(NOT {inner})"));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.descend()?;
            let e = self.expr()?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(self.err("missing ')'"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(e);
        }
        self.cond()
    }

    fn literal(&mut self, ty: ColType, column: &str) -> Result<Value> {
        let tok = self.peek().cloned();
        self.pos += 1;
        let v = match tok {
            Some(Tok::Num(n)) => match ty {
                ColType::I64 | ColType::Bool => n
                    .parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| self.err(format!("column {column} is an integer; {n} is not")))?,
                ColType::F64 => n
                    .parse::<f64>()
                    .map(Value::Float)
                    .map_err(|_| self.err(format!("{n} is not a number")))?,
                ColType::Text => Value::Text(n),
            },
            Some(Tok::Str(s)) => match ty {
                ColType::Text => Value::Text(s),
                _ => {
                    return Err(self.err(format!(
                        "column {column} is numeric; compare it with a number, not '{s}'"
                    )))
                }
            },
            Some(Tok::Ident(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Value::Bool(s.eq_ignore_ascii_case("true"))
            }
            other => {
                return Err(self.err(format!("expected a value after {column}, found {other:?}")))
            }
        };
        Ok(v)
    }

    fn cond(&mut self) -> Result<String> {
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return Err(self.err(format!("expected a column name, found {:?}", self.peek())));
        };
        self.pos += 1;
        let spec = self.table.column(&name).ok_or_else(|| {
            self.err(format!(
                "table {} has no column {name}; columns: {}",
                self.table.name,
                self.table.column_names().join(", ")
            ))
        })?;
        let col = spec.name;
        let ty = spec.ty;
        match self.peek().cloned() {
            Some(Tok::Op(op)) => {
                self.pos += 1;
                let v = self.literal(ty, col)?;
                let op = match op.as_str() {
                    "==" => "=",
                    "!=" => "<>",
                    o => o,
                }
                .to_string();
                let p = self.param(v);
                Ok(format!("{col} {op} {p}"))
            }
            Some(Tok::Amp) => {
                self.pos += 1;
                if ty != ColType::I64 {
                    return Err(
                        self.err(format!("bit test on {col}, which is not an integer column"))
                    );
                }
                let v = self.literal(ColType::I64, col)?;
                let p = self.param(v);
                Ok(format!("({col} & {p}) <> 0"))
            }
            Some(Tok::Ident(k)) if k.eq_ignore_ascii_case("BETWEEN") => {
                self.pos += 1;
                let lo = self.literal(ty, col)?;
                if !self.keyword("AND") {
                    return Err(self.err("BETWEEN needs AND"));
                }
                let hi = self.literal(ty, col)?;
                let (a, b) = (self.param(lo), self.param(hi));
                Ok(format!("{col} BETWEEN {a} AND {b}"))
            }
            Some(Tok::Ident(k)) if k.eq_ignore_ascii_case("IN") => {
                self.pos += 1;
                if self.peek() != Some(&Tok::LParen) {
                    return Err(self.err("IN needs a parenthesised list"));
                }
                self.pos += 1;
                let mut ps = Vec::new();
                loop {
                    let v = self.literal(ty, col)?;
                    ps.push(self.param(v));
                    match self.peek() {
                        Some(Tok::Comma) => self.pos += 1,
                        Some(Tok::RParen) => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err("IN list: expected ',' or ')'")),
                    }
                }
                Ok(format!("{col} IN ({})", ps.join(", ")))
            }
            Some(Tok::Ident(k)) if k.eq_ignore_ascii_case("IS") => {
                self.pos += 1;
                let not = self.keyword("NOT");
                if !self.keyword("NULL") {
                    return Err(self.err("IS must be followed by NULL or NOT NULL"));
                }
                Ok(format!("{col} IS {}NULL", if not { "NOT " } else { "" }))
            }
            other => Err(self.err(format!(
                "after column {col}: expected an operator, found {other:?}"
            ))),
        }
    }
}

/// Compiles `filter` for `table`. Placeholders start at number `first` and
/// use `marker` (`'?'` for SQLite, `'$'` for PostgreSQL).
pub fn compile(filter: &str, table: &TableSpec, marker: char, first: usize) -> Result<Compiled> {
    let toks = lex(filter)?;
    if toks.is_empty() {
        return Err(StoreError::bad_request("--where", "empty filter"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        table,
        params: Vec::new(),
        marker,
        first,
        depth: 0,
    };
    let sql = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(p.err(format!(
            "unexpected {:?} after the end of the expression",
            p.toks[p.pos]
        )));
    }
    Ok(Compiled {
        sql,
        params: p.params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ZCATALOG;

    #[test]
    fn compiles_conditions_with_parameters() {
        let c = compile(
            "z > 0.5 AND spectype = 'QSO' AND zwarn = 0",
            &ZCATALOG,
            '?',
            1,
        )
        .unwrap();
        assert_eq!(c.sql, "(z > ?1 AND spectype = ?2 AND zwarn = ?3)");
        assert_eq!(
            c.params,
            vec![Value::Float(0.5), Value::Text("QSO".into()), Value::Int(0)]
        );
    }

    #[test]
    fn bit_tests_between_in_or_not() {
        let c = compile(
            "(bgs_target & 2 OR desi_target & 1152921504606846976) AND NOT z BETWEEN 0 AND 1e-3 AND spectype IN ('GALAXY','QSO') AND zerr IS NOT NULL",
            &ZCATALOG,
            '$',
            4,
        )
        .unwrap();
        assert_eq!(
            c.sql,
            "(((bgs_target & $4) <> 0 OR (desi_target & $5) <> 0) AND (NOT z BETWEEN $6 AND $7) AND spectype IN ($8, $9) AND zerr IS NOT NULL)"
        );
        assert_eq!(c.params[1], Value::Int(1152921504606846976));
        assert_eq!(c.params[3], Value::Float(1e-3));
    }

    #[test]
    fn rejects_injection_and_unknown_columns() {
        for bad in [
            "z > 0; DROP TABLE zcatalog",
            "z > 0 OR 1=1",
            "nosuch = 1",
            "spectype = QSO",
            "z > 'a'",
            "z >",
            "(z > 1",
        ] {
            let e = compile(bad, &ZCATALOG, '?', 1).unwrap_err().to_string();
            assert!(e.starts_with("--where:"), "{bad}: {e}");
        }
        let e = compile("nosuch = 1", &ZCATALOG, '?', 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column nosuch") && e.contains("targetid"),
            "{e}"
        );
    }

    #[test]
    fn nesting_is_capped_instead_of_overflowing_the_stack() {
        let at_limit = format!("{}z > 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        let c = compile(&at_limit, &ZCATALOG, '?', 1).unwrap();
        assert_eq!(c.sql, "z > ?1");
        let nots = format!("{}z > 1", "NOT ".repeat(MAX_DEPTH));
        compile(&nots, &ZCATALOG, '?', 1).unwrap();
        let want = "--where: the filter nests parentheses and NOT more than 64 deep; \
                    flatten it (a AND b AND c needs no parentheses)";
        for deep in [
            format!(
                "{}z > 1{}",
                "(".repeat(MAX_DEPTH + 1),
                ")".repeat(MAX_DEPTH + 1)
            ),
            "(".repeat(100_000),
            "NOT ".repeat(100_000),
            "NOT (".repeat(50_000),
        ] {
            let e = compile(&deep, &ZCATALOG, '?', 1).unwrap_err().to_string();
            assert_eq!(e, want);
        }
    }

    #[test]
    fn quotes_in_strings_stay_data() {
        let c = compile("spectype = 'it''s'", &ZCATALOG, '?', 1).unwrap();
        assert_eq!(c.params, vec![Value::Text("it's".into())]);
    }
}
