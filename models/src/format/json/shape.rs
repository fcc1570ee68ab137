//! What the JSON Schema says a value is, where the JSON alone does not say: an object may be a
//! struct, a map or an enum's variant, a string a string or a unit variant, an array a list or
//! a tuple. The conversions in both directions ask this.

use serde_json::{Map, Value};

/// The schema of the format, with its definitions.
pub(super) struct Schemas {
    root: Value,
}

/// What a value is, by its schema.
#[derive(Clone, Copy, Debug)]
pub(super) enum Shape<'a> {
    /// No schema says (a value under a field that is not in the format): read as written.
    Any,
    /// A struct: its fields' schemas.
    Struct(&'a Map<String, Value>),
    /// A map from strings: its values' schema.
    Map(&'a Value),
    /// A list: its elements' schema.
    List(&'a Value),
    /// A tuple: its elements' schemas.
    Tuple(&'a [Value]),
    /// A string that names a unit variant.
    Unit,
    /// A variant with content (`{"Exponential": {...}}`): the content's schema, and whether the
    /// variant's fields are written inline (a struct variant) rather than as one value.
    Variant(&'a Value, Content),
    /// A string, number, boolean or null.
    Scalar,
}

/// How a variant holds its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Content {
    /// `Name(field: ...)`.
    Fields,
    /// `Name(a, b)`.
    Items,
    /// `Name(value)`.
    One,
}

/// What a JSON value is, as far as choosing a schema's branch needs.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind<'n> {
    Null,
    Bool,
    Number,
    Str(&'n str),
    /// An object, with its only key when it has exactly one.
    Object(Option<&'n str>),
    Array,
}

impl Schemas {
    pub fn new(root: Value) -> Schemas {
        Schemas { root }
    }

    pub fn root(&self) -> &Value {
        &self.root
    }

    /// `s` with its `$ref`s followed.
    pub fn resolve<'a>(&'a self, mut s: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(name) = s.get("$ref").and_then(Value::as_str) else {
                return s;
            };
            let name = name.trim_start_matches("#/$defs/");
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(next) => s = next,
                None => return &Value::Bool(true),
            }
        }
        s
    }

    /// The branches of a choice (`anyOf`, `oneOf`), if `s` is one.
    fn branches(s: &Value) -> Option<&[Value]> {
        (s.get("anyOf").or_else(|| s.get("oneOf")))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }

    /// The shape of a value of kind `kind` under schema `s`.
    pub fn shape<'a>(&'a self, s: &'a Value, kind: Kind) -> Shape<'a> {
        let s = self.resolve(s);
        if let Some(branches) = Schemas::branches(s) {
            return match branches.iter().find(|b| self.admits(b, kind)) {
                Some(b) => self.shape(b, kind),
                // A misspelt variant is one still, so that the loader says which it may be.
                None if self.lists_variants(s) && matches!(kind, Kind::Str(v) if camel(v)) => {
                    Shape::Unit
                }
                None => Shape::Any,
            };
        }
        match kind {
            Kind::Str(v) if names_variant(s, v) => Shape::Unit,
            Kind::Str(v) if camel(v) && self.lists_variants(s) => Shape::Unit,
            Kind::Object(key) => match (variant_of(s), key) {
                (Some((name, content)), Some(k)) if name == k => {
                    Shape::Variant(content, self.content(content))
                }
                _ => match (s.get("properties"), s.get("additionalProperties")) {
                    (Some(Value::Object(p)), _) => Shape::Struct(p),
                    (_, Some(v)) if v != &Value::Bool(false) => Shape::Map(v),
                    _ => Shape::Any,
                },
            },
            Kind::Array => match (s.get("prefixItems"), s.get("items")) {
                (Some(Value::Array(items)), _) => Shape::Tuple(items),
                (_, Some(items)) => Shape::List(items),
                _ => Shape::Any,
            },
            _ if is_any(s) => Shape::Any,
            _ => Shape::Scalar,
        }
    }

    /// Whether `s`, or a branch of it, names unit variants.
    fn lists_variants(&self, s: &Value) -> bool {
        let s = self.resolve(s);
        match Schemas::branches(s) {
            Some(branches) => branches.iter().any(|b| self.lists_variants(b)),
            None => listed(s).is_some_and(|l| l.iter().any(|v| camel(v))),
        }
    }

    /// How a variant whose content has schema `content` holds it: fields written inline (a
    /// struct variant's schema is inline, a newtype's a reference), items, or one value.
    fn content(&self, content: &Value) -> Content {
        if content.get("$ref").is_some() {
            return Content::One;
        }
        if content.get("properties").is_some() {
            Content::Fields
        } else if content.get("prefixItems").is_some() {
            Content::Items
        } else {
            Content::One
        }
    }

    /// Whether a value of kind `kind` may take branch `b`.
    fn admits(&self, b: &Value, kind: Kind) -> bool {
        let b = self.resolve(b);
        if let Some(branches) = Schemas::branches(b) {
            return branches.iter().any(|x| self.admits(x, kind));
        }
        if let Some((name, _)) = variant_of(b) {
            return matches!(kind, Kind::Object(Some(k)) if k == name);
        }
        if let Some(values) = listed(b) {
            return matches!(kind, Kind::Str(v) if values.contains(&v))
                || matches!(kind, Kind::Number) && b.get("const").is_some_and(Value::is_number);
        }
        let types: Vec<&str> = match b.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return true,
        };
        types.iter().any(|t| {
            matches!(
                (*t, kind),
                ("null", Kind::Null)
                    | ("boolean", Kind::Bool)
                    | ("array", Kind::Array)
                    | ("number" | "integer", Kind::Number)
                    | ("string", Kind::Str(_))
                    | ("object", Kind::Object(_))
            )
        })
    }

    /// Whether `s` takes `null` (an optional value, or a value the format leaves open).
    pub fn takes_null(&self, s: &Value) -> bool {
        self.admits(s, Kind::Null)
    }

    /// The schema of the value at `path` (a variant's `set` path, a grid's), when the format
    /// has one there.
    pub fn at_path(&self, path: &str) -> Option<&Value> {
        let steps = crate::format::patch::segments(path).ok()?;
        let mut s = &self.root;
        for step in &steps {
            s = self.step(s, step, 0)?;
        }
        Some(s)
    }

    /// The schema one step below `s`: a field, a list's element (by name or `[index]`), a map's
    /// value, or a field of a variant's content.
    fn step<'a>(&'a self, s: &'a Value, step: &str, depth: usize) -> Option<&'a Value> {
        let s = self.resolve(s);
        if depth > 8 {
            return None;
        }
        if let Some(branches) = Schemas::branches(s) {
            return branches.iter().find_map(|b| self.step(b, step, depth + 1));
        }
        if let Some((_, content)) = variant_of(s) {
            return self.step(content, step, depth + 1);
        }
        if let Some(Value::Array(items)) = s.get("prefixItems") {
            let k: usize = step.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
            return items.get(k);
        }
        if let Some(items) = s.get("items") {
            return Some(items);
        }
        if let Some(Value::Object(p)) = s.get("properties") {
            return p
                .get(step)
                .or_else(|| p.get(crate::format::names::canonical(step)));
        }
        match s.get("additionalProperties") {
            Some(v) if v != &Value::Bool(false) => Some(v),
            _ => None,
        }
    }

    /// The content schema of variant `name` among the branches of `s`, when `s` is an enum
    /// with such a variant.
    pub fn variant<'a>(&'a self, s: &'a Value, name: &str) -> Option<(&'a Value, Content)> {
        let s = self.resolve(s);
        if let Some(branches) = Schemas::branches(s) {
            return branches.iter().find_map(|b| self.variant(b, name));
        }
        match variant_of(s) {
            Some((n, content)) if n == name => Some((content, self.content(content))),
            _ => None,
        }
    }
}

/// A schema that says nothing (`true`, `{}`).
fn is_any(s: &Value) -> bool {
    s == &Value::Bool(true) || s.as_object().is_some_and(|o| o.is_empty())
}

/// The strings a `const` or `enum` lists.
fn listed(s: &Value) -> Option<Vec<&str>> {
    if let Some(c) = s.get("const") {
        return Some(c.as_str().into_iter().collect());
    }
    s.get("enum")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
}

/// Whether `s` lists `v` as a unit variant's name (our variants are CamelCase; strings a
/// custom type takes, such as `"unbounded"`, are not).
fn names_variant(s: &Value, v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_uppercase()) && listed(s).is_some_and(|l| l.contains(&v))
}

/// Whether `v` could be a variant's name: a CamelCase identifier.
fn camel(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_uppercase()) && v.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A variant with content, as schemars writes it: an object with one required property, the
/// variant's name.
fn variant_of(s: &Value) -> Option<(&str, &Value)> {
    let props = s.get("properties")?.as_object()?;
    let required = s.get("required")?.as_array()?;
    if props.len() != 1 || required.len() != 1 {
        return None;
    }
    let (name, content) = props.iter().next()?;
    (required[0].as_str() == Some(name) && name.starts_with(|c: char| c.is_ascii_uppercase()))
        .then_some((name.as_str(), content))
}
