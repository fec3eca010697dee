//! Template functions beyond gtmpl's builtins: Go's `html`, `js` and `slice`, which gtmpl
//! lacks, and the common `json`, `upper`, `lower`, `trim` and `join`.

use gtmpl::{Func, FuncError, Value};

use crate::data;

/// Every helper with its name in templates.
pub(crate) const HELPERS: &[(&str, Func)] = &[
    ("html", html),
    ("js", js),
    ("slice", slice),
    ("json", json),
    ("upper", upper),
    ("lower", lower),
    ("trim", trim),
    ("join", join),
];

/// `json VALUE`: the value as compact JSON, object keys sorted.
fn json(args: &[Value]) -> Result<Value, FuncError> {
    let [value] = args else {
        return Err(FuncError::ExactlyXArgs("json".into(), 1));
    };
    let json = data::to_json(value).map_err(FuncError::Generic)?;
    Ok(Value::String(json.to_string()))
}

/// `upper STRING`.
fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("upper", args)?.to_uppercase()))
}

/// `lower STRING`.
fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("lower", args)?.to_lowercase()))
}

/// `trim STRING`: without leading and trailing white space.
fn trim(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("trim", args)?.trim().to_string()))
}

/// `join SEPARATOR LIST` (so that `{{ .list | join ", " }}` reads naturally): the items
/// printed as `{{ . }}` prints them, separated.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    let [Value::String(separator), Value::Array(items)] = args else {
        return Err(FuncError::Generic(
            "join needs a separator string and a list".into(),
        ));
    };
    let items: Vec<String> = items.iter().map(Value::to_string).collect();
    Ok(Value::String(items.join(separator)))
}

/// `html ARGS...`: the arguments printed as `print` does, with `<`, `>`, `&`, `'` and `"`
/// escaped as HTML entities.
fn html(args: &[Value]) -> Result<Value, FuncError> {
    let text = printed(args)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

/// `js ARGS...`: the arguments printed as `print` does, escaped for a JavaScript string.
fn js(args: &[Value]) -> Result<Value, FuncError> {
    let text = printed(args)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' | '>' | '&' | '=' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

/// `slice X [LOW [HIGH]]`: part of a string (byte offsets) or list, as Go's `x[low:high]`.
fn slice(args: &[Value]) -> Result<Value, FuncError> {
    let Some((subject, bounds)) = args.split_first() else {
        return Err(FuncError::AtLeastXArgs("slice".into(), 1));
    };
    let len = match subject {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        _ => return Err(FuncError::Generic("slice needs a string or a list".into())),
    };
    let bound = |i: usize, default: usize| match bounds.get(i) {
        None => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| FuncError::Generic(format!("slice: bad index {n}"))),
        Some(other) => Err(FuncError::Generic(format!("slice: bad index {other}"))),
    };
    if bounds.len() > 2 {
        return Err(FuncError::Generic("slice takes at most two indexes".into()));
    }
    let (low, high) = (bound(0, 0)?, bound(1, len)?);
    if low > high || high > len {
        return Err(FuncError::Generic(format!(
            "slice: index out of range [{low}:{high}] with length {len}"
        )));
    }
    match subject {
        Value::String(s) => s
            .get(low..high)
            .map(|part| Value::String(part.to_string()))
            .ok_or_else(|| FuncError::Generic("slice: index inside a character".into())),
        Value::Array(items) => Ok(Value::Array(items[low..high].to_vec())),
        _ => unreachable!("checked above"),
    }
}

/// The one string argument of helper `name`.
fn string_arg<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, FuncError> {
    match args {
        [Value::String(s)] => Ok(s),
        [_] => Err(FuncError::Generic(format!("{name} needs a string"))),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

/// The arguments printed as the builtin `print` prints them.
fn printed(args: &[Value]) -> Result<String, FuncError> {
    match gtmpl::funcs::print(args)? {
        Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}
