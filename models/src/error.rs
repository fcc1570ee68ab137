//! Errors in scenario files: where (file, line and column, or field path), what was expected, and a
//! suggestion when a name is close to a known one. Every problem found is reported, not just the
//! first.
//!
//! [`SourceMap`] is what finds the place: a lenient reader of RON text that knows where every value
//! starts, so that a problem found after parsing (a name that does not resolve, a rate of zero) can
//! point at the text that caused it, and a parse error can name the field it happened in.

use std::fmt;

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// Field path such as `services.frontend.calls[0].to`, when known.
    pub path: Option<String>,
    pub message: String,
    /// A name close to the unknown one, for "did you mean".
    pub suggestion: Option<String>,
}

/// Every problem found in one scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some((line, col)) = p.position {
                write!(f, ":{line}:{col}")?;
            }
            write!(f, ": error")?;
            if let Some(path) = &p.path {
                write!(f, " in `{path}`")?;
            }
            write!(f, ": {}", p.message)?;
            if let Some(s) = &p.suggestion {
                write!(f, "; did you mean `{s}`?")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The known name closest to `unknown`, if it is close enough to be a likely typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(unknown, k);
        // Ties keep the first name, so suggestions never depend on iteration accidents.
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, k));
        }
    }
    best.map(|(_, k)| k.to_string())
}

/// Names as a message lists them: `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
pub fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The 1-based line and column of `needle` in `source`, searching from the first occurrence of
/// `anchor` (if given and found) onwards. A plain text search: prefer [`SourceMap::find`], which
/// knows the structure and is not fooled by comments or repeated names.
pub fn locate(source: &str, anchor: Option<&str>, needle: &str) -> Option<(usize, usize)> {
    let start = anchor.and_then(|a| source.find(a)).unwrap_or(0);
    let offset = start + source[start..].find(needle)?;
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    Some((line, col))
}

/// One step of a path into a scenario's structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A struct field, by name.
    Field(String),
    /// An element of a list (or of the list inside a newtype such as `Parallel([...])`).
    Index(usize),
}

/// What a token of RON text is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A string literal; `closed` is false when the file ends inside it.
    Str {
        closed: bool,
    },
    Char,
    Number,
    Ident,
    /// Any other single character: brackets, `,`, `:`, and characters RON does not know.
    Punct,
}

/// A token of RON text: a byte range and its kind.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

/// A value in the text. Groups are `Name(...)`, `(...)`, `[...]` and `{...}`.
#[derive(Clone, Debug)]
struct Node {
    start: usize,
    /// One past the last byte; `usize::MAX` for a group the reader never saw closed.
    end: usize,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Atom,
    Group {
        /// The opening bracket.
        open: u8,
        /// Whether a name comes before the bracket (`Call(...)`, `Scenario(...)`).
        named: bool,
        fields: Vec<FieldNode>,
        items: Vec<Node>,
    },
}

#[derive(Clone, Debug)]
struct FieldNode {
    name: String,
    key_start: usize,
    key_end: usize,
    value: Node,
}

/// Most nesting the reader follows; the typed parser stops far earlier.
const DEPTH_MAX: usize = 512;

/// Most steps [`SourceMap::path_at`] follows.
const PATH_DEPTH_MAX: usize = 24;

/// Lists whose elements paths name by their `name` field (`services.frontend`) rather than by
/// index; the others (`workload[0]`, `calls[1]`) use the index.
const NAMED_LISTS: [&str; 3] = ["services", "regions", "zones"];

/// A lenient reader of RON text: tokens, the positions of values, and what was left open where
/// reading stopped. It never fails; on text it cannot read it keeps what it has.
pub struct SourceMap<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    root: Option<Node>,
    line_starts: Vec<usize>,
    /// Opening brackets (offset, byte) still open where the reader stopped.
    open: Vec<(usize, u8)>,
    /// Where the reader stopped: the offending token's start, or `text.len()` at the end.
    stopped_at: usize,
    /// Start of a `/*` comment that is never closed.
    unclosed_comment: Option<usize>,
    /// Start of the first token after the root value, if any.
    trailing: Option<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> SourceMap<'a> {
        let (tokens, unclosed_comment) = tokenize(text);
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut reader = Reader {
            tokens: &tokens,
            text,
            p: 0,
            open: Vec::new(),
            aborted: None,
        };
        let root = reader.value(0);
        let (open, aborted, p) = (reader.open, reader.aborted, reader.p);
        let trailing = match (&root, aborted) {
            (Some(_), None) => tokens.get(p).map(|t| t.start),
            _ => None,
        };
        SourceMap {
            text,
            stopped_at: aborted.unwrap_or(text.len()),
            tokens,
            root,
            line_starts,
            open,
            unclosed_comment,
            trailing,
        }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The 1-based line and column (in characters, as RON counts them) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }

    /// The byte offset of a 1-based line and column (in characters).
    pub fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    /// The first token that ends after `offset`: the one at `offset` or the next.
    pub fn token_at(&self, offset: usize) -> Option<Token> {
        let i = self.tokens.partition_point(|t| t.end <= offset);
        self.tokens.get(i).copied()
    }

    /// The last token that ends at or before `offset`.
    pub fn token_before(&self, offset: usize) -> Option<Token> {
        let i = self.tokens.partition_point(|t| t.end <= offset);
        i.checked_sub(1).map(|i| self.tokens[i])
    }

    /// The text of a token, shortened if long, for quoting in a message.
    pub fn snippet(&self, token: Token) -> String {
        let text = &self.text[token.start..token.end];
        let line = text.lines().next().unwrap_or_default();
        let mut short: String = line.chars().take(40).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        short
    }

    /// Brackets left open (offset, byte) where the reader stopped, outermost first.
    pub fn open_brackets(&self) -> &[(usize, u8)] {
        &self.open
    }

    /// Whether the reader went through the whole text without finding anything it could not read.
    pub fn read_to_end(&self) -> bool {
        self.stopped_at == self.text.len()
    }

    /// Start of a `/*` comment that is never closed.
    pub fn unclosed_comment(&self) -> Option<usize> {
        self.unclosed_comment
    }

    /// Start of the first token after the end of the top-level value.
    pub fn trailing(&self) -> Option<usize> {
        self.trailing
    }

    /// The offset of the value at `path`, or of the deepest value on the way that exists (a field
    /// left to its default has no text of its own). `None` if the text has no value at all.
    pub fn find(&self, path: &[Seg]) -> Option<usize> {
        let mut node = self.root.as_ref()?;
        for seg in path {
            let next = match (seg, &node.kind) {
                (Seg::Field(name), Kind::Group { fields, .. }) => {
                    fields.iter().find(|f| &f.name == name).map(|f| &f.value)
                }
                (Seg::Index(i), Kind::Group { .. }) => list_of(node).get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        Some(node.start)
    }

    /// Like [`SourceMap::find`], but `None` unless the file spells out the whole path.
    pub fn find_exact(&self, path: &[Seg]) -> Option<usize> {
        let mut node = self.root.as_ref()?;
        for seg in path {
            node = match (seg, &node.kind) {
                (Seg::Field(name), Kind::Group { fields, .. }) => {
                    &fields.iter().find(|f| &f.name == name)?.value
                }
                (Seg::Index(i), Kind::Group { .. }) => list_of(node).get(*i)?,
                _ => return None,
            };
        }
        Some(node.start)
    }

    /// The innermost bracket (`(`, `[` or `{`) open at `offset`, counting the tokens before it.
    pub fn enclosing_bracket(&self, offset: usize) -> Option<u8> {
        let end = self.tokens.partition_point(|t| t.end <= offset);
        let mut depth = 0usize;
        for t in self.tokens[..end].iter().rev() {
            if t.kind != TokenKind::Punct || t.end != t.start + 1 {
                continue;
            }
            match self.text.as_bytes()[t.start] {
                b')' | b']' | b'}' => depth += 1,
                c @ (b'(' | b'[' | b'{') => {
                    if depth == 0 {
                        return Some(c);
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
        None
    }

    /// The field path of the innermost value around `offset` (`services.catalog.work`), and the
    /// offset where that value starts. The path is empty at the top level. An offset on a field's
    /// name belongs to the struct, not to the field.
    pub fn path_at(&self, offset: usize) -> Option<(String, usize)> {
        let mut node = self.root.as_ref()?;
        let mut path = String::new();
        let mut parent_field: Option<&str> = None;
        // Deeper than this, a path is no longer something to read; stop at an ancestor.
        for _ in 0..PATH_DEPTH_MAX {
            let Kind::Group { fields, .. } = &node.kind else {
                break;
            };
            if let Some(f) = fields
                .iter()
                .find(|f| f.key_start <= offset && offset < f.value.end)
            {
                if offset < f.key_end {
                    break;
                }
                path.push('.');
                path.push_str(&f.name);
                parent_field = Some(&f.name);
                node = &f.value;
                continue;
            }
            let items = list_of(node);
            let Some((i, item)) = items
                .iter()
                .enumerate()
                .find(|(_, it)| it.start <= offset && offset < it.end)
            else {
                break;
            };
            match parent_field
                .filter(|p| NAMED_LISTS.contains(p))
                .and_then(|_| self.name_of(item))
            {
                Some(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                None => path.push_str(&format!("[{i}]")),
            }
            parent_field = None;
            node = item;
        }
        Some((path.trim_start_matches('.').to_string(), node.start))
    }

    /// The `name: "..."` of a struct value, unquoted, if it has a plain one.
    fn name_of(&self, node: &Node) -> Option<&'a str> {
        let Kind::Group { fields, .. } = &node.kind else {
            return None;
        };
        let value = &fields.iter().find(|f| f.name == "name")?.value;
        let text = self.text.get(value.start..value.end)?;
        let inner = text.strip_prefix('"')?.strip_suffix('"')?;
        let plain = !inner.is_empty()
            && inner.len() <= 64
            && !inner.contains(['\\', '\n', '\r', '`', '.', '[']);
        plain.then_some(inner)
    }
}

/// The elements a path index counts: a list's items, or those of the list inside a newtype such
/// as `Parallel([...])` or `Empirical([...])`.
fn list_of(node: &Node) -> &[Node] {
    match &node.kind {
        Kind::Group { named, items, .. } if *named && items.len() == 1 => match &items[0].kind {
            Kind::Group {
                open: b'[',
                items: inner,
                ..
            } => inner,
            _ => items,
        },
        Kind::Group { items, .. } => items,
        Kind::Atom => &[],
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Splits RON text into tokens, skipping whitespace and comments. Returns the start of a block
/// comment that is never closed, if any (the text after it is not tokenized).
fn tokenize(text: &str) -> (Vec<Token>, Option<usize>) {
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let ident_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b[i..].starts_with(b"//") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n + 1);
            continue;
        }
        if b[i..].starts_with(b"/*") {
            let start = i;
            let mut depth = 0usize;
            loop {
                if i >= b.len() {
                    return (tokens, Some(start));
                }
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        let start = i;
        let raw_hashes = (c == b'r' || (c == b'b' && b.get(i + 1) == Some(&b'r'))).then(|| {
            let from = if c == b'r' { i + 1 } else { i + 2 };
            let hashes = b[from..].iter().take_while(|&&h| h == b'#').count();
            (from + hashes, hashes)
        });
        let kind = match c {
            _ if raw_hashes.is_some_and(|(q, _)| b.get(q) == Some(&b'"')) => {
                let (q, hashes) = raw_hashes.unwrap_or_default();
                let close = format!("\"{}", "#".repeat(hashes));
                match text[q + 1..].find(&close) {
                    Some(n) => {
                        i = q + 1 + n + close.len();
                        TokenKind::Str { closed: true }
                    }
                    None => {
                        i = b.len();
                        TokenKind::Str { closed: false }
                    }
                }
            }
            b'"' | b'b' if c == b'"' || b.get(i + 1) == Some(&b'"') => {
                i += if c == b'b' { 2 } else { 1 };
                let mut closed = false;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                i = i.min(b.len());
                TokenKind::Str { closed }
            }
            b'\'' => {
                let mut j = i + 1;
                if b.get(j) == Some(&b'\\') {
                    j += 2;
                } else if j < b.len() {
                    j += text[j..].chars().next().map_or(1, char::len_utf8);
                }
                if b.get(j) == Some(&b'\'') {
                    i = j + 1;
                    TokenKind::Char
                } else {
                    i += 1;
                    TokenKind::Punct
                }
            }
            b'0'..=b'9' => {
                i = number_end(b, i);
                TokenKind::Number
            }
            b'.' | b'+' | b'-' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(b, i + 1);
                TokenKind::Number
            }
            _ if ident_char(c) => {
                if c == b'r' && b.get(i + 1) == Some(&b'#') {
                    i += 2;
                }
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                i = floor_char_boundary(text, i);
                if i == start {
                    i += text[i..].chars().next().map_or(1, char::len_utf8);
                }
                TokenKind::Ident
            }
            _ => {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                TokenKind::Punct
            }
        };
        tokens.push(Token {
            start,
            end: i,
            kind,
        });
    }
    (tokens, None)
}

/// The end of a number starting at `i`: digits, letters (`e`, `x`, suffixes), `_`, `.`, and a sign
/// right after an exponent's `e`.
fn number_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        let sign_after_e =
            (c == b'+' || c == b'-') && i > 0 && (b[i - 1] == b'e' || b[i - 1] == b'E');
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || sign_after_e {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Builds the value tree from tokens.
struct Reader<'t> {
    tokens: &'t [Token],
    text: &'t str,
    p: usize,
    open: Vec<(usize, u8)>,
    /// Offset at which reading stopped, once it has.
    aborted: Option<usize>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.p).copied()
    }

    fn punct(&self, t: Option<Token>) -> Option<u8> {
        t.filter(|t| t.kind == TokenKind::Punct && t.end == t.start + 1)
            .map(|t| self.text.as_bytes()[t.start])
    }

    fn stop(&mut self) {
        if self.aborted.is_none() {
            self.aborted = Some(self.peek().map_or(self.text.len(), |t| t.start));
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if self.aborted.is_some() {
            return None;
        }
        let Some(t) = self.peek() else {
            self.stop();
            return None;
        };
        if depth > DEPTH_MAX {
            self.stop();
            return None;
        }
        match (t.kind, self.punct(Some(t))) {
            (TokenKind::Str { closed: false }, _) => {
                self.stop();
                None
            }
            (TokenKind::Str { .. } | TokenKind::Char | TokenKind::Number, _) => {
                self.p += 1;
                Some(Node {
                    start: t.start,
                    end: t.end,
                    kind: Kind::Atom,
                })
            }
            (TokenKind::Ident, _) => {
                self.p += 1;
                if self.punct(self.peek()) == Some(b'(') {
                    Some(self.group(t.start, true, depth))
                } else {
                    Some(Node {
                        start: t.start,
                        end: t.end,
                        kind: Kind::Atom,
                    })
                }
            }
            (_, Some(b'(' | b'[' | b'{')) => Some(self.group(t.start, false, depth)),
            (_, Some(b'-' | b'+')) if self.tokens.get(self.p + 1).is_some() => {
                // `-inf`, `-NaN`: a sign before a name.
                let next = self.tokens[self.p + 1];
                if next.kind == TokenKind::Ident && next.start == t.end {
                    self.p += 2;
                    Some(Node {
                        start: t.start,
                        end: next.end,
                        kind: Kind::Atom,
                    })
                } else {
                    self.stop();
                    None
                }
            }
            (_, Some(b'#')) => {
                // An attribute such as `#![enable(implicit_some)]`, then the value.
                self.p += 1;
                if self.punct(self.peek()) == Some(b'!') {
                    self.p += 1;
                }
                if self.punct(self.peek()) != Some(b'[') {
                    self.stop();
                    return None;
                }
                let attr = self.peek().map_or(0, |t| t.start);
                let _ = self.group(attr, false, depth);
                self.value(depth)
            }
            _ => {
                self.stop();
                None
            }
        }
    }

    /// A group whose opening bracket is the next token; `start` is where its value starts (the
    /// name, for `Name(...)`).
    fn group(&mut self, start: usize, named: bool, depth: usize) -> Node {
        let open_tok = self.peek().expect("group starts at a bracket");
        let open = self.text.as_bytes()[open_tok.start];
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        };
        self.p += 1;
        self.open.push((open_tok.start, open));
        let (mut fields, mut items) = (Vec::new(), Vec::new());
        let node = |fields, items, end| Node {
            start,
            end,
            kind: Kind::Group {
                open,
                named,
                fields,
                items,
            },
        };
        loop {
            if self.aborted.is_some() {
                return node(fields, items, usize::MAX);
            }
            let t = self.peek();
            if self.punct(t) == Some(close) {
                self.p += 1;
                self.open.pop();
                let end = t.map_or(self.text.len(), |t| t.end);
                return node(fields, items, end);
            }
            let is_field = open == b'('
                && t.is_some_and(|t| t.kind == TokenKind::Ident)
                && self.punct(self.tokens.get(self.p + 1).copied()) == Some(b':');
            if is_field {
                let key = t.expect("checked above");
                self.p += 2;
                let name = self.text[key.start..key.end].trim_start_matches("r#");
                match self.value(depth + 1) {
                    Some(value) => fields.push(FieldNode {
                        name: name.to_string(),
                        key_start: key.start,
                        key_end: key.end,
                        value,
                    }),
                    None => {
                        // The value could not be read: keep the field, open-ended, so that a
                        // position inside it still belongs to it.
                        let at = self.aborted.unwrap_or(key.end);
                        fields.push(FieldNode {
                            name: name.to_string(),
                            key_start: key.start,
                            key_end: key.end,
                            value: Node {
                                start: at,
                                end: usize::MAX,
                                kind: Kind::Atom,
                            },
                        });
                    }
                }
            } else if open == b'{' {
                // A map entry: the key is read and dropped, the value kept.
                let _ = self.value(depth + 1);
                if self.punct(self.peek()) != Some(b':') {
                    self.stop();
                    continue;
                }
                self.p += 1;
                match self.value(depth + 1) {
                    Some(v) => items.push(v),
                    None => continue,
                }
            } else {
                match self.value(depth + 1) {
                    Some(v) => items.push(v),
                    None => continue,
                }
            }
            if self.aborted.is_some() {
                continue;
            }
            match self.punct(self.peek()) {
                Some(b',') => self.p += 1,
                Some(c) if c == close => {}
                _ => self.stop(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["catalog", "cart", "frontend"];
        assert_eq!(closest("catalgo", known), Some("catalog".into()));
        assert_eq!(closest("fronted", known), Some("frontend".into()));
        assert_eq!(closest("zebra", known), None);
    }

    #[test]
    fn locates_after_anchor() {
        let src = "a: \"x\",\nname: \"svc\",\n  to: \"x\"";
        assert_eq!(locate(src, None, "\"x\""), Some((1, 4)));
        assert_eq!(locate(src, Some("\"svc\""), "\"x\""), Some((3, 7)));
    }

    #[test]
    fn lists_names_in_prose() {
        assert_eq!(one_of::<&str>(&[]), "");
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }

    const SRC: &str = r#"// a comment that mentions "db" and services
Scenario(
    name: "x",
    services: [
        (name: "web", calls: [Call(to: "db"), Parallel([Call(to: "a"), Call(to: "b")])]),
        (name: "db", work: Empirical([(0.0, "1ms"), (1.0, "2ms")])),
    ],
    workload: [(entry: "web", arrivals: Poisson(rate_per_s: -inf))],
)
"#;

    fn f(s: &str) -> Seg {
        Seg::Field(s.into())
    }

    #[test]
    fn finds_values_by_path() {
        let map = SourceMap::new(SRC);
        let at = |path: &[Seg]| map.find(path).map(|o| map.position(o));
        assert_eq!(at(&[]), Some((2, 1)));
        assert_eq!(
            at(&[f("services"), Seg::Index(1), f("name")]),
            Some((6, 16))
        );
        assert_eq!(
            at(&[
                f("services"),
                Seg::Index(0),
                f("calls"),
                Seg::Index(1),
                Seg::Index(1),
                f("to")
            ]),
            Some((5, 81))
        );
        assert_eq!(
            at(&[f("services"), Seg::Index(1), f("work"), Seg::Index(1)]),
            Some((6, 53))
        );
        // A field left out: the deepest value that exists.
        assert_eq!(
            at(&[f("services"), Seg::Index(1), f("queue")]),
            Some((6, 9))
        );
        assert!(map.read_to_end());
        assert_eq!(map.trailing(), None);
    }

    #[test]
    fn names_the_path_at_a_position() {
        let map = SourceMap::new(SRC);
        let path = |line, col| map.path_at(map.offset(line, col)).map(|(p, _)| p);
        assert_eq!(path(5, 81).as_deref(), Some("services.web.calls[1][1].to"));
        assert_eq!(path(6, 53).as_deref(), Some("services.db.work[1]"));
        // On a field's name: the struct it belongs to.
        assert_eq!(path(6, 23).as_deref(), Some("services.db"));
        assert_eq!(
            path(8, 63).as_deref(),
            Some("workload[0].arrivals.rate_per_s")
        );
        assert_eq!(path(2, 1).as_deref(), Some(""));
    }

    #[test]
    fn keeps_what_it_read_of_broken_text() {
        let map = SourceMap::new("Scenario(\n  services: [\n    (name: \"web\", workers: ");
        assert!(!map.read_to_end() || !map.open_brackets().is_empty());
        let opened: Vec<u8> = map.open_brackets().iter().map(|&(_, c)| c).collect();
        assert_eq!(opened, b"([(");
        let (path, _) = map.path_at(map.text().len()).unwrap();
        assert_eq!(path, "services.web.workers");

        let map = SourceMap::new("Scenario() /* never closed");
        assert_eq!(map.unclosed_comment(), Some(11));
        let map = SourceMap::new("Scenario() x");
        assert_eq!(map.trailing(), Some(11));
    }

    #[test]
    fn never_panics_on_odd_text() {
        let odd = [
            "",
            "\"",
            "'",
            "r#\"",
            "b'",
            "(",
            ")",
            "[[[",
            "é(",
            "Scenario(é: 1)",
            "#![",
            "-",
            "-x",
            "1e-",
            "{1: 2, 3}",
            "(a: , b: 1)",
            "r#x",
            "/*/**/",
            "'\\",
            "\"\\",
        ];
        for text in odd {
            let map = SourceMap::new(text);
            for i in 0..=text.len() {
                let _ = map.path_at(i);
                let _ = map.position(i);
                let _ = map.token_at(i);
                let _ = map.token_before(i);
            }
        }
        let deep = "[".repeat(10_000);
        let _ = SourceMap::new(&deep).path_at(5000);
    }
}
