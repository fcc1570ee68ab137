//! Variants as patches on the scenario text.
//!
//! A variant says what differs from the base scenario by path: `set: {"services.api.workers": 64}`
//! and `unset: ["services.checkout.calls.payments.breaker"]`. Paths name things as the file does:
//! struct fields by name, list elements by their `name` (or, for calls, `to`) or by `[index]`.
//!
//! Values are written in RON and may be anything the field takes (`Exponential(mean: "2ms")`), so
//! patches are applied to the *text*: a small RON reader finds the span of every value, edits
//! replace, insert or remove spans, and the edited text is parsed by the ordinary typed parser. The
//! file format is therefore defined in one place only (`spec.rs`), and a variant can change any
//! field without a parallel "patch" type.

use std::fmt;

/// A byte range in the source text.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A RON value with the spans needed to edit it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `Name(field: value, ...)` or `(field: value, ...)`.
    Struct {
        name: Option<String>,
        fields: Vec<Field>,
        span: Span,
    },
    /// `Name(a, b)` or `(a, b)`.
    Tuple {
        name: Option<String>,
        items: Vec<Node>,
        span: Span,
    },
    List {
        items: Vec<Node>,
        span: Span,
    },
    Map {
        entries: Vec<(Node, Node)>,
        span: Span,
    },
    /// A string, number, char, boolean or bare identifier (unit variant).
    Atom {
        text: String,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    /// From the field name to the end of its value.
    pub span: Span,
    pub value: Node,
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Struct { span, .. }
            | Node::Tuple { span, .. }
            | Node::List { span, .. }
            | Node::Map { span, .. }
            | Node::Atom { span, .. } => *span,
        }
    }

    /// The field `name` of a struct.
    pub fn field(&self, name: &str) -> Option<&Field> {
        match self {
            Node::Struct { fields, .. } => fields.iter().find(|f| f.name == name),
            _ => None,
        }
    }

    /// The unquoted value of a string atom.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Node::Atom { text, .. } if text.starts_with('"') => ron::from_str::<String>(text).ok(),
            _ => None,
        }
    }
}

/// An error in reading RON text or applying a patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    pub message: String,
    /// Byte offset in the text, when the error is in the text itself.
    pub offset: Option<usize>,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn err<T>(message: String, offset: Option<usize>) -> Result<T, PatchError> {
    Err(PatchError { message, offset })
}

/// Reads RON text into nodes with spans.
pub fn parse(text: &str) -> Result<Node, PatchError> {
    let mut r = Reader {
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    r.skip_ws()?;
    let node = r.value()?;
    r.skip_ws()?;
    if r.pos != r.s.len() {
        return err("unexpected text after the scenario".into(), Some(r.pos));
    }
    Ok(node)
}

/// Nesting deeper than this is refused rather than overflowing the stack.
const DEPTH_MAX: usize = 128;

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<(), PatchError> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    let start = self.pos;
                    self.pos += 2;
                    let mut level = 1;
                    while level > 0 {
                        match (self.peek(), self.s.get(self.pos + 1)) {
                            (None, _) => return err("unclosed block comment".into(), Some(start)),
                            (Some(b'*'), Some(b'/')) => {
                                level -= 1;
                                self.pos += 2;
                            }
                            (Some(b'/'), Some(b'*')) => {
                                level += 1;
                                self.pos += 2;
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), PatchError> {
        self.skip_ws()?;
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            err(format!("expected `{}`", c as char), Some(self.pos))
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn value(&mut self) -> Result<Node, PatchError> {
        self.skip_ws()?;
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return err("the text nests too deeply".into(), Some(self.pos));
        }
        let start = self.pos;
        let node = match self.peek() {
            None => return err("unexpected end of text".into(), Some(self.pos)),
            Some(b'(') => self.parens(None, start)?,
            Some(b'[') => self.list(start)?,
            Some(b'{') => self.map(start)?,
            Some(b'"') => {
                self.string()?;
                self.atom(start)
            }
            Some(b'\'') => {
                self.pos += 1;
                if self.peek() == Some(b'\\') {
                    self.pos += 1;
                }
                self.pos += 1;
                while self.peek().is_some_and(|c| c != b'\'') {
                    self.pos += 1;
                }
                self.expect(b'\'')?;
                self.atom(start)
            }
            Some(b'r') if matches!(self.s.get(self.pos + 1), Some(b'"') | Some(b'#')) => {
                self.raw_string()?;
                self.atom(start)
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.ident().unwrap_or_default();
                let after = self.pos;
                self.skip_ws()?;
                if self.peek() == Some(b'(') {
                    self.parens(Some(name), start)?
                } else {
                    self.pos = after;
                    self.atom(start)
                }
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.') => {
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+')
                }) {
                    self.pos += 1;
                }
                self.atom(start)
            }
            Some(c) => {
                return err(
                    format!("unexpected character `{}`", c as char),
                    Some(self.pos),
                )
            }
        };
        self.depth -= 1;
        Ok(node)
    }

    fn atom(&self, start: usize) -> Node {
        Node::Atom {
            text: String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
            span: Span {
                start,
                end: self.pos,
            },
        }
    }

    fn string(&mut self) -> Result<(), PatchError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => return err("unclosed string".into(), Some(start)),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn raw_string(&mut self) -> Result<(), PatchError> {
        let start = self.pos;
        self.pos += 1;
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.pos += 1;
        }
        self.expect(b'"')?;
        loop {
            match self.peek() {
                None => return err("unclosed raw string".into(), Some(start)),
                Some(b'"')
                    if self.s[self.pos + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == b'#')
                        .count()
                        == hashes =>
                {
                    self.pos += 1 + hashes;
                    return Ok(());
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// `(` ... `)`: a struct if the first item is `ident:`, else a tuple.
    fn parens(&mut self, name: Option<String>, start: usize) -> Result<Node, PatchError> {
        self.expect(b'(')?;
        self.skip_ws()?;
        let save = self.pos;
        let is_struct = match self.ident() {
            Some(_) => {
                self.skip_ws()?;
                let colon = self.peek() == Some(b':') && self.s.get(self.pos + 1) != Some(&b':');
                self.pos = save;
                colon
            }
            None => self.peek() == Some(b')'),
        };
        if is_struct {
            let mut fields = Vec::new();
            loop {
                self.skip_ws()?;
                if self.peek() == Some(b')') {
                    self.pos += 1;
                    return Ok(Node::Struct {
                        name,
                        fields,
                        span: Span {
                            start,
                            end: self.pos,
                        },
                    });
                }
                let fstart = self.pos;
                let fname = self.ident().ok_or(PatchError {
                    message: "expected a field name".into(),
                    offset: Some(self.pos),
                })?;
                self.expect(b':')?;
                let value = self.value()?;
                fields.push(Field {
                    name: fname,
                    span: Span {
                        start: fstart,
                        end: value.span().end,
                    },
                    value,
                });
                self.separator(b')')?;
            }
        }
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(Node::Tuple {
                    name,
                    items,
                    span: Span {
                        start,
                        end: self.pos,
                    },
                });
            }
            items.push(self.value()?);
            self.separator(b')')?;
        }
    }

    /// After an item: a comma, or the closing bracket (left for the caller).
    fn separator(&mut self, close: u8) -> Result<(), PatchError> {
        self.skip_ws()?;
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(())
            }
            Some(c) if c == close => Ok(()),
            _ => err(
                format!("expected `,` or `{}`", close as char),
                Some(self.pos),
            ),
        }
    }

    fn list(&mut self, start: usize) -> Result<Node, PatchError> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Node::List {
                    items,
                    span: Span {
                        start,
                        end: self.pos,
                    },
                });
            }
            items.push(self.value()?);
            self.separator(b']')?;
        }
    }

    fn map(&mut self, start: usize) -> Result<Node, PatchError> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Node::Map {
                    entries,
                    span: Span {
                        start,
                        end: self.pos,
                    },
                });
            }
            let key = self.value()?;
            self.expect(b':')?;
            let value = self.value()?;
            entries.push((key, value));
            self.separator(b'}')?;
        }
    }
}

/// One change to the text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Where a path leads.
enum Target<'n> {
    /// An existing field of a struct.
    Field(&'n Field),
    /// A field not present in a struct (for `set`, it is inserted).
    Missing(&'n Node, String),
}

/// Finds a list element by `[index]`, or by its `name` or `to` field.
fn element<'n>(items: &'n [Node], key: &str) -> Option<&'n Node> {
    if let Some(idx) = key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        return idx.parse::<usize>().ok().and_then(|i| items.get(i));
    }
    // A call is named by its target; `Parallel([...])` groups are searched too.
    let by_name = |n: &Node| {
        ["name", "to"]
            .iter()
            .any(|f| n.field(f).and_then(|f| f.value.as_str()).as_deref() == Some(key))
    };
    for item in items {
        if by_name(item) {
            return Some(item);
        }
        if let Node::Tuple { items: inner, .. } = item {
            for group in inner {
                if let Node::List { items: calls, .. } = group {
                    if let Some(found) = calls.iter().find(|n| by_name(n)) {
                        return Some(found);
                    }
                }
            }
        }
    }
    None
}

fn names_in(node: &Node) -> Vec<String> {
    match node {
        Node::Struct { fields, .. } => fields.iter().map(|f| f.name.clone()).collect(),
        Node::List { items, .. } => items
            .iter()
            .filter_map(|n| {
                ["name", "to"]
                    .iter()
                    .find_map(|f| n.field(f).and_then(|f| f.value.as_str()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn resolve<'n>(root: &'n Node, path: &str) -> Result<Target<'n>, PatchError> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut node = root;
    for (k, seg) in segments.iter().enumerate() {
        let last = k + 1 == segments.len();
        let here = segments[..k].join(".");
        let not_found = |node: &Node| {
            let suggestion = crate::error::closest(seg, names_in(node).iter().map(String::as_str));
            let hint = suggestion
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let within = if here.is_empty() {
                String::new()
            } else {
                format!(" in `{here}`")
            };
            PatchError {
                message: format!("path `{path}`: nothing named `{seg}`{within}{hint}"),
                offset: None,
            }
        };
        match node {
            Node::Struct { fields, .. } => match fields.iter().find(|f| f.name == *seg) {
                Some(f) if last => return Ok(Target::Field(f)),
                Some(f) => node = &f.value,
                None if last => return Ok(Target::Missing(node, seg.to_string())),
                None => return Err(not_found(node)),
            },
            Node::List { items, .. } if !last => {
                node = element(items, seg).ok_or_else(|| not_found(node))?
            }
            Node::Tuple { items, .. } if !last && items.len() == 1 => {
                // A newtype such as `InZone("a")` or `Parallel([...])`: look inside.
                node = &items[0];
                if let Node::List { items, .. } = node {
                    node = element(items, seg).ok_or_else(|| not_found(node))?;
                }
            }
            _ => {
                return err(
                    format!("path `{path}`: `{here}` has no fields to address with `{seg}`"),
                    None,
                );
            }
        }
    }
    err(format!("path `{path}` is empty"), None)
}

/// Applies `set` (path, RON text) and `unset` (path) to `text`, returning the edited text.
pub fn apply(
    text: &str,
    root: &Node,
    set: &[(String, String)],
    unset: &[String],
) -> Result<String, PatchError> {
    let mut edits = Vec::new();
    for (path, value) in set {
        match resolve(root, path)? {
            Target::Field(f) => {
                let s = f.value.span();
                edits.push(Edit {
                    start: s.start,
                    end: s.end,
                    text: value.clone(),
                });
            }
            Target::Missing(Node::Struct { span, .. }, name) => {
                // Insert right after the opening parenthesis, where a trailing comma is always
                // valid, whatever other edits do to the end of the struct.
                let open = span.start
                    + text[span.start..]
                        .find('(')
                        .expect("a struct has a parenthesis")
                    + 1;
                edits.push(Edit {
                    start: open,
                    end: open,
                    text: format!("{name}: {value}, "),
                });
            }
            Target::Missing(..) => unreachable!("only structs have missing fields"),
        }
    }
    for path in unset {
        match resolve(root, path)? {
            Target::Field(f) => {
                // Remove the field and its trailing comma.
                let mut end = f.span.end;
                let rest = &text[end..];
                let ws = rest.len() - rest.trim_start().len();
                if rest.trim_start().starts_with(',') {
                    end += ws + 1;
                }
                edits.push(Edit {
                    start: f.span.start,
                    end,
                    text: String::new(),
                });
            }
            Target::Missing(_, name) => {
                return err(
                    format!("path `{path}`: there is no `{name}` to unset"),
                    None,
                )
            }
        }
    }
    edits.sort_by_key(|e| (e.start, e.end));
    for w in edits.windows(2) {
        // Two insertions of the same absent field at one place conflict too.
        let field = |e: &Edit| e.text.split(':').next().map(str::trim).map(str::to_string);
        let same_insert = w[0].start == w[0].end
            && w[1].start == w[1].end
            && w[0].start == w[1].start
            && field(&w[0]) == field(&w[1]);
        if w[1].start < w[0].end || same_insert {
            return err(
                "two changes of this variant touch the same part of the scenario".into(),
                None,
            );
        }
    }
    let mut out = text.to_string();
    for e in edits.iter().rev() {
        out.replace_range(e.start..e.end, &e.text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"Scenario(
    name: "x", // a comment with ( and "
    services: [
        (name: "api", workers: 4, work: Exponential(mean: "2ms"),
         calls: [Call(to: "db"), Parallel([Call(to: "a"), Call(to: "b")])]),
        (name: "db", work: Constant("1ms"), placement: InZone("a")),
    ],
    /* block /* nested */ */
    workload: [(entry: "api", arrivals: Poisson(rate_per_s: 1.5e2))],
)"#;

    fn patch(set: &[(&str, &str)], unset: &[&str]) -> Result<String, PatchError> {
        let root = parse(SRC)?;
        let set: Vec<(String, String)> = set
            .iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        let unset: Vec<String> = unset.iter().map(|p| p.to_string()).collect();
        apply(SRC, &root, &set, &unset)
    }

    #[test]
    fn reads_spans() {
        let root = parse(SRC).unwrap();
        let services = &root.field("services").unwrap().value;
        let Node::List { items, .. } = services else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1].field("name").unwrap().value.as_str().as_deref(),
            Some("db")
        );
        let work = &items[0].field("work").unwrap().value;
        assert_eq!(
            &SRC[work.span().start..work.span().end],
            r#"Exponential(mean: "2ms")"#
        );
    }

    #[test]
    fn sets_replaces_inserts_and_unsets() {
        let out = patch(
            &[
                ("services.api.workers", "64"),
                ("services.db.work", "Exponential(mean: \"3ms\")"),
            ],
            &[],
        )
        .unwrap();
        assert!(
            out.contains("workers: 64,")
                && out.contains("work: Exponential(mean: \"3ms\"), placement")
        );
        let out = patch(&[("services.db.workers", "8")], &[]).unwrap();
        assert!(out.contains(r#"(workers: 8, name: "db""#), "{out}");
        // Removing the last field and adding one leaves valid text.
        let out = patch(&[("services.api.queue", "5")], &["services.api.calls"]).unwrap();
        assert!(
            out.contains(r#"(queue: 5, name: "api""#)
                && out.contains(r#"work: Exponential(mean: "2ms"),"#),
            "{out}"
        );
        assert!(parse(&out).is_ok());
        let out = patch(&[], &["services.api.calls"]).unwrap();
        assert!(
            !out.contains("Call(to: \"db\")")
                && out.contains("work: Exponential(mean: \"2ms\"),\n"),
            "{out}"
        );
        // Calls are addressed by their target, inside Parallel groups too.
        let out = patch(&[("services.api.calls.b.to", "\"c\"")], &[]).unwrap();
        assert!(out.contains(r#"Call(to: "a"), Call(to: "c")"#), "{out}");
        let out = patch(&[("services.[1].placement", "Spread")], &[]).unwrap();
        assert!(out.contains("placement: Spread)"));
    }

    #[test]
    fn bad_paths_say_what_is_there() {
        let e = patch(&[("services.apj.workers", "1")], &[]).unwrap_err();
        assert_eq!(
            e.message,
            "path `services.apj.workers`: nothing named `apj` in `services`; did you mean `api`?"
        );
        let e = patch(&[], &["services.api.breaker"]).unwrap_err();
        assert_eq!(
            e.message,
            "path `services.api.breaker`: there is no `breaker` to unset"
        );
        let e = patch(&[("services.api.workers", "1")], &["services.api.workers"]).unwrap_err();
        assert!(e.message.contains("same part"));
    }

    #[test]
    fn rejects_broken_text_without_panicking() {
        for cut in 0..SRC.len() {
            if SRC.is_char_boundary(cut) {
                let _ = parse(&SRC[..cut]);
            }
        }
        assert!(parse("((((((((((").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
    }
}
