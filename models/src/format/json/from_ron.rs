//! RON scenario text as JSON, for `faultline convert` and the tests that load every catalog
//! scenario both ways: the reader's tree, shaped by the schema (a struct's name is dropped, a
//! variant's kept as its key; another library's field name becomes ours).

use super::shape::{Content, Kind, Schemas, Shape};
use crate::format::names;
use crate::format::reader::Node;
use serde_json::Value;

const ANY: &Value = &Value::Bool(true);

/// JSON with its objects' keys in the order of the RON text (serde_json's map sorts them).
pub(super) enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Scalar(Value),
}

impl Json {
    /// Pretty-printed, two spaces a level, as serde_json prints.
    pub fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.push_str(&"  ".repeat(n));
        let (open, close, empty) = match self {
            Json::Scalar(v) => return out.push_str(&v.to_string()),
            Json::Object(e) => ('{', '}', e.is_empty()),
            Json::Array(i) => ('[', ']', i.is_empty()),
        };
        out.push(open);
        if empty {
            out.push(close);
            return;
        }
        let mut first = true;
        let mut item = |out: &mut String, key: Option<&str>, v: &Json| {
            out.push_str(if first { "\n" } else { ",\n" });
            first = false;
            pad(out, indent + 1);
            if let Some(k) = key {
                out.push_str(&Value::String(k.to_string()).to_string());
                out.push_str(": ");
            }
            v.write(out, indent + 1);
        };
        match self {
            Json::Object(entries) => entries.iter().for_each(|(k, v)| item(out, Some(k), v)),
            Json::Array(items) => items.iter().for_each(|v| item(out, None, v)),
            Json::Scalar(_) => unreachable!("written above"),
        }
        out.push('\n');
        pad(out, indent);
        out.push(close);
    }
}

/// `n` as JSON under schema `schema` (`hint`: the path a `set` or grid value is for).
pub(super) fn value(
    schemas: &Schemas,
    n: &Node,
    schema: &Value,
    hint: Option<&str>,
) -> Result<Json, String> {
    let schema = match (is_open(schemas, schema), hint) {
        (true, Some(path)) => schemas.at_path(path).unwrap_or(ANY),
        _ => schema,
    };
    match n {
        // `None` is an optional value left out, or a variant of that name (`jitter: None`).
        Node::Atom { text, .. } if text == "None" && !schemas.takes_null(schema) => {
            Ok(Json::Scalar(Value::String(text.clone())))
        }
        Node::Atom { text, .. } => atom(text).map(Json::Scalar),
        Node::List { items, .. } => {
            let each = match schemas.shape(schema, Kind::Array) {
                Shape::List(s) => s,
                _ => ANY,
            };
            let items = items.iter().map(|i| value(schemas, i, each, hint));
            Ok(Json::Array(items.collect::<Result<_, _>>()?))
        }
        Node::Map { entries, .. } => {
            let each = match schemas.shape(schema, Kind::Object(None)) {
                Shape::Map(s) => s,
                _ => ANY,
            };
            let mut out = Vec::new();
            for (k, v) in entries {
                let key = k.as_str().ok_or("a map's key is not a string")?;
                let v = value(schemas, v, each, Some(&key))?;
                out.push((key, v));
            }
            Ok(Json::Object(out))
        }
        Node::Parens {
            name,
            fields,
            items,
            ..
        } => parens(schemas, name.as_deref(), fields, items, schema),
    }
}

/// Whether the schema leaves the value open (a `set` or grid value).
fn is_open(schemas: &Schemas, schema: &Value) -> bool {
    let s = schemas.resolve(schema);
    s == ANY || s.as_object().is_some_and(|o| o.is_empty())
}

/// `Name(...)` or `(...)`: `Some(x)` is `x`; a variant of the schema's enum is `{"Name": ...}`;
/// anything else a struct (an object) or a tuple (an array).
fn parens(
    schemas: &Schemas,
    name: Option<&str>,
    fields: &[crate::format::reader::Field],
    items: &[Node],
    schema: &Value,
) -> Result<Json, String> {
    if let (Some("Some"), [one]) = (name, items) {
        return value(schemas, one, schema, None);
    }
    let variant = name.and_then(|n| schemas.variant(schema, n).map(|v| (n, v)));
    let Some((name, (content, how))) = variant else {
        return match (fields.is_empty(), items) {
            (true, [_, ..]) => tuple(schemas, items, schema),
            _ => record(schemas, fields, schema),
        };
    };
    let inner = match how {
        Content::Fields => record(schemas, fields, content)?,
        Content::Items => tuple(schemas, items, content)?,
        Content::One => match items {
            [one] => value(schemas, one, content, None)?,
            _ => record(schemas, fields, content)?,
        },
    };
    Ok(Json::Object(vec![(name.to_string(), inner)]))
}

/// A struct's fields as an object, each by its field's schema, under our names.
fn record(
    schemas: &Schemas,
    fields: &[crate::format::reader::Field],
    schema: &Value,
) -> Result<Json, String> {
    let props = match schemas.shape(schema, Kind::Object(None)) {
        Shape::Struct(p) => Some(p),
        _ => None,
    };
    let mut out = Vec::new();
    for f in fields {
        let ours = names::canonical(&f.name);
        let name = match props {
            Some(p) if !p.contains_key(&f.name) && p.contains_key(ours) => ours,
            _ => f.name.as_str(),
        };
        let s = props.and_then(|p| p.get(name)).unwrap_or(ANY);
        out.push((name.to_string(), value(schemas, &f.value, s, None)?));
    }
    Ok(Json::Object(out))
}

/// A tuple as an array; a grid's entry gives its values the schema of its path.
fn tuple(schemas: &Schemas, items: &[Node], schema: &Value) -> Result<Json, String> {
    let each: &[Value] = match schemas.shape(schema, Kind::Array) {
        Shape::Tuple(s) => s,
        _ => &[],
    };
    let path = items.first().and_then(Node::as_str);
    let mut out = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let hint = if k == 1 { path.as_deref() } else { None };
        out.push(value(schemas, item, each.get(k).unwrap_or(ANY), hint)?);
    }
    Ok(Json::Array(out))
}

/// A string, number, character, boolean, `None` or unit variant.
fn atom(text: &str) -> Result<Value, String> {
    let bad = || format!("`{text}` is not a value JSON can hold");
    Ok(match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "None" => Value::Null,
        t if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !t.starts_with("r\"")
            && !t.starts_with("r#") =>
        {
            Value::String(t.to_string())
        }
        t if t.starts_with(['"', 'r']) => {
            Value::String(ron::from_str::<String>(t).map_err(|_| bad())?)
        }
        t if t.starts_with('\'') => {
            Value::String(ron::from_str::<char>(t).map_err(|_| bad())?.to_string())
        }
        t => {
            if let Ok(n) = ron::from_str::<u64>(t) {
                Value::from(n)
            } else if let Ok(n) = ron::from_str::<i64>(t) {
                Value::from(n)
            } else {
                let f = ron::from_str::<f64>(t).map_err(|_| bad())?;
                Value::from(serde_json::Number::from_f64(f).ok_or_else(bad)?)
            }
        }
    })
}
