//! JSON scenario text into RON text, edited in place so that every line keeps its length in
//! characters: a problem the RON loader finds has the JSON file's line and column.
//!
//! ```text
//!  {"name": "db", "work": {"Exponential": {"mean": "5ms"}}, "placement": "Spread"}
//!  ( name  : "db",  work  :  Exponential(    mean  : "5ms" ),  placement  : Spread  )
//! ```

use super::shape::{Content, Kind, Schemas, Shape};
use super::tree::{Entry, JNode};
use crate::error::{closest, Problem};
use crate::format::names;

/// The text being edited, and the problems the conversion itself finds (keys that cannot be
/// field names, other libraries' names).
pub(super) struct Editor<'s> {
    pub chars: Vec<char>,
    pub problems: Vec<Problem>,
    schemas: &'s Schemas,
}

impl<'s> Editor<'s> {
    pub fn new(chars: Vec<char>, schemas: &'s Schemas) -> Editor<'s> {
        Editor {
            chars,
            problems: Vec::new(),
            schemas,
        }
    }

    /// Writes `text` from `at`, over characters that the caller knows are not line breaks.
    fn put(&mut self, at: usize, text: &str) {
        for (k, c) in text.chars().enumerate() {
            assert!(self.chars[at + k] != '\n', "an edit keeps every line break");
            self.chars[at + k] = c;
        }
    }

    /// Writes `text` over the string node `node` (quotes included), then spaces to its end.
    fn replace_string(&mut self, node: &JNode, text: &str) {
        let JNode::Str { start, end, .. } = *node else {
            unreachable!("a string node")
        };
        assert!(text.chars().count() <= end - start, "an edit never grows");
        self.put(start, &" ".repeat(end - start));
        self.put(start, text);
    }

    /// A string value: written again in RON's escapes where JSON's differ (never longer: the
    /// escapes RON lacks become the characters they stand for).
    fn string(&mut self, node: &JNode) {
        if node.plain() {
            return;
        }
        let value = node.as_str().expect("a string node");
        let mut out = String::from("\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
        self.replace_string(node, &out);
    }

    /// Converts `node` under schema `schema` (`hint`: the path a `set` or grid value is for,
    /// which gives the schema of a value the format leaves open).
    pub fn value(&mut self, node: &JNode, schema: &'s serde_json::Value, hint: Option<&str>) {
        let shape = self.schemas.shape(schema, kind(node));
        if let (Shape::Any, Some(path)) = (shape, hint) {
            if let Some(s) = self.schemas.at_path(path) {
                return self.value(node, s, None);
            }
        }
        match (node, shape) {
            // `null` is an optional value left out; where none is taken, the loader refuses
            // it as written (a `None` here would be read as a variant of that name).
            (JNode::Null { start }, _) if self.schemas.takes_null(schema) => {
                self.put(*start, "None")
            }
            (JNode::Null { .. }, _) => {}
            (JNode::Other { .. } | JNode::Bool { .. }, _) => {}
            (JNode::Str { value, .. }, Shape::Unit) => {
                let name = value.clone();
                self.replace_string(node, &name);
            }
            (JNode::Str { .. }, _) => self.string(node),
            (JNode::Array { .. }, _) => self.array(node, shape, hint),
            (JNode::Object { .. }, Shape::Variant(content, how)) => {
                self.variant(node, content, how)
            }
            (JNode::Object { .. }, Shape::Struct(fields)) => self.record(node, Some(fields)),
            (JNode::Object { .. }, Shape::Map(values)) => self.map(node, values),
            (JNode::Object { .. }, _) => self.loose_object(node),
        }
    }

    fn array(&mut self, node: &JNode, shape: Shape<'s>, hint: Option<&str>) {
        let JNode::Array { open, close, items } = node else {
            unreachable!("an array node")
        };
        match shape {
            Shape::Tuple(schemas) => {
                self.put(*open, "(");
                self.put(*close, ")");
                // A grid's entry: its values are of the field its path names.
                let path = items.first().and_then(JNode::as_str).map(str::to_string);
                for (k, item) in items.iter().enumerate() {
                    let s = schemas.get(k).unwrap_or(&serde_json::Value::Bool(true));
                    self.value(item, s, if k == 1 { path.as_deref() } else { None });
                }
            }
            Shape::List(s) => items.iter().for_each(|item| self.value(item, s, hint)),
            _ => items
                .iter()
                .for_each(|item| self.value(item, &serde_json::Value::Bool(true), None)),
        }
    }

    /// `{"Name": content}` as `Name(content)`: the name in its key's quotes, with the
    /// parenthesis; the object's own braces become a space and the closing parenthesis.
    fn variant(&mut self, node: &JNode, content: &'s serde_json::Value, how: Content) {
        let JNode::Object {
            open,
            close,
            entries,
        } = node
        else {
            unreachable!("an object node")
        };
        let entry = &entries[0];
        self.put(*open, " ");
        let name = entry.key.as_str().expect("a key").to_string();
        self.replace_string(&entry.key, &format!("{name}("));
        self.put(entry.colon, " ");
        self.put(*close, ")");
        match (&entry.value, how) {
            (JNode::Object { open, close, .. }, Content::Fields) => {
                self.put(*open, " ");
                self.put(*close, " ");
                self.fields(&entry.value, content);
            }
            (JNode::Array { open, close, items }, Content::Items) => {
                self.put(*open, " ");
                self.put(*close, " ");
                let schemas = content.get("prefixItems").and_then(|p| p.as_array());
                for (k, item) in items.iter().enumerate() {
                    let s = schemas.and_then(|s| s.get(k));
                    self.value(item, s.unwrap_or(&serde_json::Value::Bool(true)), None);
                }
            }
            (value, _) => self.value(value, content, None),
        }
    }

    /// The fields of a struct variant's content (its braces already blanked).
    fn fields(&mut self, node: &JNode, content: &'s serde_json::Value) {
        let fields = content.get("properties").and_then(|p| p.as_object());
        self.entries(node, fields);
    }

    /// An object as a struct: `(name: value, ...)`.
    fn record(
        &mut self,
        node: &JNode,
        fields: Option<&'s serde_json::Map<String, serde_json::Value>>,
    ) {
        let JNode::Object { open, close, .. } = node else {
            unreachable!("an object node")
        };
        self.put(*open, "(");
        self.put(*close, ")");
        self.entries(node, fields);
    }

    /// Each `"key": value` of an object read as a struct: the key a bare field name, the value
    /// by the field's schema (an unknown field's as written: the loader reports it).
    fn entries(
        &mut self,
        node: &JNode,
        fields: Option<&'s serde_json::Map<String, serde_json::Value>>,
    ) {
        let JNode::Object { entries, .. } = node else {
            unreachable!("an object node")
        };
        for entry in entries {
            let key = entry.key.as_str().expect("a key").to_string();
            if !self.field_name(entry, &key, fields) {
                continue;
            }
            self.replace_string(&entry.key, &key);
            let any = &serde_json::Value::Bool(true);
            let schema = fields.and_then(|f| f.get(&key)).unwrap_or(any);
            self.value(&entry.value, schema, None);
        }
    }

    /// Whether `key` can be written as a field name; a problem when not (not a name, or
    /// another library's name, which JSON scenarios do not take).
    fn field_name(
        &mut self,
        entry: &Entry,
        key: &str,
        fields: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> bool {
        let known: Vec<&str> =
            fields.map_or(Vec::new(), |f| f.keys().map(String::as_str).collect());
        let ident = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let ours = names::canonical(key);
        let message = if !ident || !entry.key.plain() {
            format!("`{key}` is not a field name")
        } else if ours != key && known.contains(&ours) {
            format!("`{key}` is another library's name for `{ours}`; a JSON scenario takes the format's own names, as its schema lists them")
        } else {
            return true;
        };
        let suggestion = if ours != key {
            Some(ours.to_string())
        } else {
            closest(key, known)
        };
        self.problems.push(Problem {
            position: Some(self.line_col(entry.key.start())),
            path: None,
            message,
            suggestion,
        });
        false
    }

    /// A map: keys stay strings; the values by the map's schema, or, where the format leaves
    /// them open (a variant's `set`), by the schema of the path each key names.
    fn map(&mut self, node: &JNode, values: &'s serde_json::Value) {
        let JNode::Object { entries, .. } = node else {
            unreachable!("an object node")
        };
        for entry in entries {
            self.string(&entry.key);
            let key = entry.key.as_str().map(str::to_string);
            self.value(&entry.value, values, key.as_deref());
        }
    }

    /// An object under no schema: a variant when its one key is CamelCase, a struct when its
    /// keys are names, a map otherwise.
    fn loose_object(&mut self, node: &JNode) {
        let JNode::Object { entries, .. } = node else {
            unreachable!("an object node")
        };
        let any = &serde_json::Value::Bool(true);
        let key = entries.first().and_then(|e| e.key.as_str()).unwrap_or("");
        if entries.len() == 1 && key.starts_with(|c: char| c.is_ascii_uppercase()) {
            let how = match entries[0].value {
                JNode::Object { .. } => Content::Fields,
                _ => Content::One,
            };
            return self.variant(node, any, how);
        }
        let names = entries.iter().all(|e| {
            let k = e.key.as_str().unwrap_or("");
            k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match names {
            true => self.record(node, None),
            false => self.map(node, any),
        }
    }

    /// The 1-based line and column of character `at`.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let before = &self.chars[..at];
        let line = before.iter().filter(|&&c| c == '\n').count() + 1;
        let col = at - before.iter().rposition(|&c| c == '\n').map_or(0, |k| k + 1) + 1;
        (line, col)
    }
}

/// What `node` is, as far as choosing a schema's branch needs.
fn kind(node: &JNode) -> Kind<'_> {
    match node {
        JNode::Null { .. } => Kind::Null,
        JNode::Bool { .. } => Kind::Bool,
        JNode::Other { .. } => Kind::Number,
        JNode::Str { value, .. } => Kind::Str(value),
        JNode::Array { .. } => Kind::Array,
        JNode::Object { entries, .. } => Kind::Object(match entries.as_slice() {
            [one] => one.key.as_str(),
            _ => None,
        }),
    }
}
