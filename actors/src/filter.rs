//! Content filters: a subscription's `filter` is a JSON object matched against the document
//! `{"event_type", "payload", "headers"}` of each event. Parsed and validated once (per
//! subscription version, by the directory), then matched without allocating.
//!
//! - A key is a path segment (`{"payload": {"amount": …}}` is the path `payload.amount`), or
//!   a logical operator: `$and` / `$or` (lists of filters), `$not` (a filter).
//! - A value is a plain value (meaning `$eq`), an object of path segments (going deeper), or
//!   an object of comparison operators: `$eq $neq $gt $gte $lt $lte $in $nin $exists
//!   $startsWith`. `$gt`… compare numbers with numbers and strings with strings; a field of
//!   another type does not match. `$neq` and `$nin` match a missing field.
//!
//! Must never: accept a filter it cannot evaluate (every error names the path), or panic on
//! any document.

use serde_json::{Map, Value};

use crate::domain::Invalid;

/// The most nodes (conditions and combinators) one filter may have.
pub const MAX_NODES: usize = 256;
/// The deepest a filter may nest.
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Field { path: Vec<String>, op: Op },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Neq(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    StartsWith(String),
}

/// Where parsing is: the path shown in errors (`at`, operators included), the data path a
/// condition looks up (`field`), and how many nodes were made.
#[derive(Default)]
struct Ctx {
    at: Vec<String>,
    field: Vec<String>,
    nodes: usize,
}

impl Ctx {
    fn err(&self, msg: impl std::fmt::Display) -> Invalid {
        let at = if self.at.is_empty() {
            "filter".to_owned()
        } else {
            format!("filter.{}", self.at.join("."))
        };
        Invalid(format!("{at}: {msg}"))
    }
}

impl Filter {
    /// Parses and validates a filter; the error names the bad path.
    pub fn parse(raw: &Value) -> Result<Self, Invalid> {
        parse_object(raw, &mut Ctx::default())
    }

    /// Whether `doc` (`{"event_type", "payload", "headers"}`) matches.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Self::And(all) => all.iter().all(|f| f.matches(doc)),
            Self::Or(any) => any.iter().any(|f| f.matches(doc)),
            Self::Not(f) => !f.matches(doc),
            Self::Field { path, op } => op.holds(lookup(doc, path)),
        }
    }
}

fn lookup<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn parse_object(raw: &Value, cx: &mut Ctx) -> Result<Filter, Invalid> {
    let Value::Object(map) = raw else {
        return Err(cx.err("must be an object"));
    };
    if cx.at.len() > MAX_DEPTH {
        return Err(cx.err(format!("nests deeper than {MAX_DEPTH} levels")));
    }
    let mut parts = Vec::with_capacity(map.len());
    for (key, value) in map {
        cx.nodes += 1;
        if cx.nodes > MAX_NODES {
            return Err(cx.err(format!("has more than {MAX_NODES} conditions")));
        }
        parts.push(parse_entry(key, value, cx)?);
    }
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => Filter::And(parts),
    })
}

fn parse_entry(key: &str, value: &Value, cx: &mut Ctx) -> Result<Filter, Invalid> {
    cx.at.push(key.to_owned());
    let parsed = match key {
        "$and" | "$or" => {
            let Value::Array(items) = value else {
                return Err(cx.err("must be a list of filters"));
            };
            let mut fs = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                cx.at.push(i.to_string());
                fs.push(parse_object(item, cx)?);
                cx.at.pop();
            }
            if key == "$and" {
                Filter::And(fs)
            } else {
                Filter::Or(fs)
            }
        }
        "$not" => Filter::Not(Box::new(parse_object(value, cx)?)),
        k if k.starts_with('$') => return Err(cx.err("is not a filter operator here")),
        k if k.is_empty() || k.chars().any(char::is_control) || k.len() > 128 => {
            return Err(cx.err("a path segment must be non-empty text"));
        }
        k => {
            cx.field.push(k.to_owned());
            let c = parse_condition(value, cx);
            cx.field.pop();
            c?
        }
    };
    cx.at.pop();
    Ok(parsed)
}

/// A value under a path: operators, deeper paths, or a plain value (`$eq`).
fn parse_condition(value: &Value, cx: &mut Ctx) -> Result<Filter, Invalid> {
    match value {
        Value::Object(m) if !m.is_empty() && m.keys().all(|k| k.starts_with('$')) => {
            let mut ops = Vec::with_capacity(m.len());
            for (op, arg) in m {
                cx.at.push(op.clone());
                let parsed = parse_op(op, arg, cx)?;
                cx.at.pop();
                ops.push(Filter::Field {
                    path: cx.field.clone(),
                    op: parsed,
                });
            }
            Ok(if ops.len() == 1 {
                ops.remove(0)
            } else {
                Filter::And(ops)
            })
        }
        Value::Object(m) if m.keys().any(|k| k.starts_with('$')) => {
            Err(cx.err("mixes operators and path segments; put them in separate objects"))
        }
        Value::Object(_) => parse_object(value, cx),
        plain if has_nul(plain) => Err(cx.err("must not contain NUL characters")),
        plain => Ok(Filter::Field {
            path: cx.field.clone(),
            op: Op::Eq(plain.clone()),
        }),
    }
}

fn parse_op(op: &str, arg: &Value, cx: &Ctx) -> Result<Op, Invalid> {
    let comparable = |v: &Value| match v {
        Value::Number(_) | Value::String(_) => Ok(v.clone()),
        _ => Err(cx.err("takes a number or a string")),
    };
    let list = |v: &Value| match v {
        Value::Array(a) if a.len() <= MAX_NODES => Ok(a.clone()),
        Value::Array(_) => Err(cx.err(format!("takes at most {MAX_NODES} values"))),
        _ => Err(cx.err("takes a list of values")),
    };
    if has_nul(arg) {
        return Err(cx.err("must not contain NUL characters"));
    }
    Ok(match op {
        "$eq" => Op::Eq(arg.clone()),
        "$neq" => Op::Neq(arg.clone()),
        "$gt" => Op::Gt(comparable(arg)?),
        "$gte" => Op::Gte(comparable(arg)?),
        "$lt" => Op::Lt(comparable(arg)?),
        "$lte" => Op::Lte(comparable(arg)?),
        "$in" => Op::In(list(arg)?),
        "$nin" => Op::Nin(list(arg)?),
        "$exists" => Op::Exists(arg.as_bool().ok_or_else(|| cx.err("takes true or false"))?),
        "$startsWith" => Op::StartsWith(
            arg.as_str()
                .ok_or_else(|| cx.err("takes a string"))?
                .to_owned(),
        ),
        _ => {
            return Err(cx.err(
                "is not a known operator ($eq $neq $gt $gte $lt $lte $in $nin $exists $startsWith)",
            ));
        }
    })
}

impl Op {
    fn holds(&self, field: Option<&Value>) -> bool {
        match self {
            Self::Eq(v) => field.is_some_and(|f| same(f, v)),
            Self::Neq(v) => !field.is_some_and(|f| same(f, v)),
            Self::Gt(v) => order(field, v).is_some_and(|o| o.is_gt()),
            Self::Gte(v) => order(field, v).is_some_and(|o| o.is_ge()),
            Self::Lt(v) => order(field, v).is_some_and(|o| o.is_lt()),
            Self::Lte(v) => order(field, v).is_some_and(|o| o.is_le()),
            Self::In(vs) => field.is_some_and(|f| vs.iter().any(|v| same(f, v))),
            Self::Nin(vs) => !field.is_some_and(|f| vs.iter().any(|v| same(f, v))),
            Self::Exists(want) => field.is_some() == *want,
            Self::StartsWith(p) => field
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(p.as_str())),
        }
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn order(field: Option<&Value>, v: &Value) -> Option<std::cmp::Ordering> {
    match (field?, v) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

/// The document a filter is matched against.
pub fn document(event_type: &str, payload: Value, headers: Map<String, Value>) -> Value {
    let mut doc = Map::new();
    doc.insert("event_type".into(), Value::String(event_type.to_owned()));
    doc.insert("payload".into(), payload);
    doc.insert("headers".into(), Value::Object(headers));
    Value::Object(doc)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
