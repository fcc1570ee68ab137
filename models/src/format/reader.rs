//! The one reader of RON text with spans. Both users of spans go through it: error messages (a
//! problem found after parsing points at the text that caused it; a parse error names the field
//! it happened in) and variants (a patch finds the value at a path and edits its text).
//!
//! The reader is lenient: it never fails, and on text it cannot read it keeps what it has read,
//! the brackets still open and where it stopped. [`parse`] is the strict form, for patches: one
//! whole value or an error. Positions are byte offsets; [`line_col`] turns one into the line and
//! column a user sees, counting characters as ron does.

use super::names::canonical;

/// A byte range in the text. A group that the text never closes ends at [`OPEN`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The end of a value the reader never saw finished.
pub const OPEN: usize = usize::MAX;

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

/// A RON value with the spans needed to point at it and to edit it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `Name(...)` or `(...)`: a struct (its `fields`), or a tuple or newtype (its `items`). Only
    /// text that is not RON has both.
    Parens {
        name: Option<String>,
        fields: Vec<Field>,
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
    /// A string, number, char, boolean or bare identifier (unit variant): `text` is its text.
    Atom {
        text: String,
        span: Span,
    },
}

/// `name: value` in a struct.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name, without a raw identifier's `r#`.
    pub name: String,
    /// The name as written.
    pub key: Span,
    /// From the name to the end of the value.
    pub span: Span,
    pub value: Node,
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Parens { span, .. }
            | Node::List { span, .. }
            | Node::Map { span, .. }
            | Node::Atom { span, .. } => *span,
        }
    }

    /// The fields of a struct; none for other values.
    pub fn fields(&self) -> &[Field] {
        match self {
            Node::Parens { fields, .. } => fields,
            _ => &[],
        }
    }

    /// The field `name` of a struct, spelt as given or by another name of the same field (an
    /// alias from another library, `format::names`).
    pub fn field(&self, name: &str) -> Option<&Field> {
        let fields = self.fields();
        fields.iter().find(|f| f.name == name).or_else(|| {
            let ours = canonical(name);
            fields.iter().find(|f| canonical(&f.name) == ours)
        })
    }

    /// The unquoted value of a string atom.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Node::Atom { text, .. } if text.starts_with('"') => ron::from_str::<String>(text).ok(),
            _ => None,
        }
    }

    /// The first string atom (a map's keys included) inside this value whose text is `wanted`,
    /// depth first in the order of the text.
    pub fn find_string(&self, wanted: &str) -> Option<&Node> {
        match self {
            Node::Atom { .. } => (self.as_str().as_deref() == Some(wanted)).then_some(self),
            Node::Parens { fields, items, .. } => fields
                .iter()
                .map(|f| &f.value)
                .chain(items)
                .find_map(|n| n.find_string(wanted)),
            Node::List { items, .. } => items.iter().find_map(|n| n.find_string(wanted)),
            Node::Map { entries, .. } => entries
                .iter()
                .find_map(|(k, v)| k.find_string(wanted).or_else(|| v.find_string(wanted))),
        }
    }

    /// The elements an index counts: a list's, a tuple's, a map's values, or those of the list
    /// inside a newtype such as `Parallel([...])` or `Empirical([...])`.
    pub fn elements(&self) -> Vec<&Node> {
        match self {
            Node::Parens {
                name: Some(_),
                items,
                ..
            } if items.len() == 1 => match &items[0] {
                Node::List { items: inner, .. } => inner.iter().collect(),
                _ => items.iter().collect(),
            },
            Node::Parens { items, .. } | Node::List { items, .. } => items.iter().collect(),
            Node::Map { entries, .. } => entries.iter().map(|(_, v)| v).collect(),
            Node::Atom { .. } => Vec::new(),
        }
    }
}

/// One step of a path into a scenario's structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A struct field, by name.
    Field(String),
    /// An element of a list (or of the list inside a newtype such as `Parallel([...])`).
    Index(usize),
}

/// Why the reader stopped before the end of the text.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// The text ended where a value was expected.
    End,
    /// A string runs to the end of the text.
    UnclosedString,
    /// Values nested too deep to follow.
    TooDeep,
    /// Something that cannot start a value.
    Unexpected,
    /// Something else where this was expected (`` "`:`" ``, `` "`,` or `)`" ``).
    Expected(&'static str),
}

/// Where the reader stopped, and why.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub at: usize,
    pub why: Why,
}

/// Most nesting the reader follows; the typed parser stops far earlier.
const DEPTH_MAX: usize = 512;

/// Most steps [`SourceMap::path_at`] follows.
const PATH_DEPTH_MAX: usize = 24;

/// Lists whose elements paths name by their `name` field (`services.frontend`) rather than by
/// index; the others (`workload[0]`, `calls[1]`) use the index.
const NAMED_LISTS: [&str; 3] = ["services", "regions", "zones"];

/// The 1-based line and column of a byte offset, the column in characters as ron counts them.
/// An offset past the end, or inside a character, counts as the end or that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// The byte offset of a 1-based line and column (in characters); the end of the text for a place
/// past it. The inverse of [`line_col`].
pub fn offset_at(text: &str, line: usize, col: usize) -> usize {
    let start = match line.saturating_sub(1) {
        0 => 0,
        n => match text.match_indices('\n').nth(n - 1) {
            Some((nl, _)) => nl + 1,
            None => return text.len(),
        },
    };
    text[start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(i, _)| start + i)
}

/// Why a text is not one whole RON value, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    pub offset: usize,
}

/// Reads text that must be one whole RON value, as a patch needs it.
pub fn parse(text: &str) -> Result<Node, ReadError> {
    let map = SourceMap::new(text);
    let comment = map
        .unclosed_comment
        .map(|at| ("unclosed block comment".into(), at));
    let trailing = map
        .trailing
        .map(|at| ("unexpected text after the scenario".into(), at));
    let stops = [map.flaw, map.stop].into_iter().flatten();
    let problems = stops.map(|s| (stopped(text, s), s.at));
    // The first in the text, as a reader that stops at the first problem would find it.
    let first = problems
        .chain(comment)
        .chain(trailing)
        .min_by_key(|&(_, at)| at);
    match (first, map.root) {
        (Some((message, offset)), _) => Err(ReadError { message, offset }),
        (None, Some(root)) => Ok(root),
        (None, None) => Err(ReadError {
            message: "unexpected end of text".into(),
            offset: text.len(),
        }),
    }
}

/// What stopped the reader, in words.
fn stopped(text: &str, stop: Stop) -> String {
    match stop.why {
        Why::End => "unexpected end of text".to_string(),
        Why::UnclosedString => "unclosed string".to_string(),
        Why::TooDeep => "the text nests too deeply".to_string(),
        Why::Expected(what) => format!("expected {what}"),
        Why::Unexpected => {
            let c = text[stop.at..].chars().next().unwrap_or_default();
            format!("unexpected character `{c}`")
        }
    }
}

/// RON text as read: its tokens, the tree of its values, and what was left open where reading
/// stopped. Answers the questions of error messages: the position of a value at a path, the path
/// of the value at a position, the tokens around a position.
pub struct SourceMap<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    root: Option<Node>,
    /// Opening brackets (offset, byte) still open where the reader stopped.
    open: Vec<(usize, u8)>,
    /// Where the reader stopped before the end, if it did.
    stop: Option<Stop>,
    /// The first text read that is not RON but did not stop the reader.
    flaw: Option<Stop>,
    /// Start of a `/*` comment that is never closed.
    unclosed_comment: Option<usize>,
    /// Start of the first token after the root value, if any.
    trailing: Option<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> SourceMap<'a> {
        let (tokens, unclosed_comment) = tokenize(text);
        let mut reader = Reader {
            tokens: &tokens,
            text,
            p: 0,
            open: Vec::new(),
            stop: None,
            flaw: None,
        };
        let root = reader.value(0);
        let (open, stop, flaw, p) = (reader.open, reader.stop, reader.flaw, reader.p);
        let trailing = match (&root, stop) {
            (Some(_), None) => tokens.get(p).map(|t| t.start),
            _ => None,
        };
        SourceMap {
            text,
            tokens,
            root,
            open,
            stop,
            flaw,
            unclosed_comment,
            trailing,
        }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The value the text holds, as far as it could be read.
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// The 1-based line and column (in characters, as RON counts them) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        line_col(self.text, offset)
    }

    /// The byte offset of a 1-based line and column (in characters).
    pub fn offset(&self, line: usize, col: usize) -> usize {
        offset_at(self.text, line, col)
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
        self.stop.is_none_or(|s| s.at == self.text.len())
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
            match step(node, seg) {
                Some(n) => node = n,
                None => break,
            }
        }
        Some(node.span().start)
    }

    /// Like [`SourceMap::find`], but `None` unless the file spells out the whole path.
    pub fn find_exact(&self, path: &[Seg]) -> Option<usize> {
        let mut node = self.root.as_ref()?;
        for seg in path {
            node = step(node, seg)?;
        }
        Some(node.span().start)
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

    /// The span of the innermost field (`name: value`) whose name or value holds `offset`.
    pub fn field_at(&self, offset: usize) -> Option<Span> {
        let mut node = self.root.as_ref()?;
        let mut found = None;
        let within = |s: Span| s.start <= offset && offset < s.end;
        for _ in 0..PATH_DEPTH_MAX {
            if let Some(f) = node.fields().iter().find(|f| within(f.span)) {
                found = Some(f.span);
                node = &f.value;
                continue;
            }
            match node.elements().into_iter().find(|n| within(n.span())) {
                Some(item) => node = item,
                None => break,
            }
        }
        found
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
            let within = |s: Span| s.start <= offset && offset < s.end;
            let fields = node.fields();
            if let Some(f) = fields.iter().find(|f| within(f.span)) {
                if offset < f.key.end {
                    break;
                }
                path.push('.');
                path.push_str(&f.name);
                parent_field = Some(&f.name);
                node = &f.value;
                continue;
            }
            let elements = node.elements();
            let Some((i, item)) = elements
                .into_iter()
                .enumerate()
                .find(|(_, n)| within(n.span()))
            else {
                break;
            };
            match parent_field
                .filter(|p| NAMED_LISTS.contains(p))
                .and_then(|_| name_of(item))
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
        Some((path.trim_start_matches('.').to_string(), node.span().start))
    }
}

/// The value one step down from `node`, if the text has it.
fn step<'n>(node: &'n Node, seg: &Seg) -> Option<&'n Node> {
    match seg {
        Seg::Field(name) => node.field(name).map(|f| &f.value),
        Seg::Index(i) => node.elements().get(*i).copied(),
    }
}

/// The `name: "..."` of a struct value, unquoted, if it has a plain one.
fn name_of(node: &Node) -> Option<&str> {
    let Node::Atom { text, .. } = &node.field("name")?.value else {
        return None;
    };
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let plain = !inner.is_empty()
        && inner.len() <= 64
        && !inner.contains(['\\', '\n', '\r', '`', '.', '[']);
    plain.then_some(inner)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The length in bytes of the character at `i` (1 at the end).
fn char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Splits RON text into tokens, skipping whitespace and comments. Returns the start of a block
/// comment that is never closed, if any (the text after it is not tokenized).
fn tokenize(text: &str) -> (Vec<Token>, Option<usize>) {
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b[i..].starts_with(b"//") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n + 1);
            continue;
        }
        if b[i..].starts_with(b"/*") {
            match block_comment_end(b, i) {
                Some(end) => i = end,
                None => return (tokens, Some(i)),
            }
            continue;
        }
        let (end, kind) = token(text, i);
        tokens.push(Token {
            start: i,
            end,
            kind,
        });
        i = end;
    }
    (tokens, None)
}

/// The end of the (nested) block comment starting at `i`, or `None` if it is never closed.
fn block_comment_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The end and kind of the token starting at `i`, which is not whitespace or a comment.
fn token(text: &str, i: usize) -> (usize, TokenKind) {
    let b = text.as_bytes();
    if let Some(raw) = raw_string(text, i) {
        return raw;
    }
    match b[i] {
        c @ (b'"' | b'b') if c == b'"' || b.get(i + 1) == Some(&b'"') => string(b, i),
        b'\'' => char_literal(text, i),
        b'0'..=b'9' => (number_end(b, i), TokenKind::Number),
        b'.' | b'+' | b'-' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
            (number_end(b, i + 1), TokenKind::Number)
        }
        c if ident_char(c) => (ident_end(text, i), TokenKind::Ident),
        _ => (i + char_len(text, i), TokenKind::Punct),
    }
}

/// A raw string `r"..."`, `r#"..."#` or `br"..."` starting at `i`, if one does.
fn raw_string(text: &str, i: usize) -> Option<(usize, TokenKind)> {
    let b = text.as_bytes();
    let from = match b[i] {
        b'r' => i + 1,
        b'b' if b.get(i + 1) == Some(&b'r') => i + 2,
        _ => return None,
    };
    let hashes = b[from..].iter().take_while(|&&h| h == b'#').count();
    let quote = from + hashes;
    if b.get(quote) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    Some(match text[quote + 1..].find(&close) {
        Some(n) => (quote + 1 + n + close.len(), TokenKind::Str { closed: true }),
        None => (b.len(), TokenKind::Str { closed: false }),
    })
}

/// A string `"..."` or `b"..."` starting at `i`.
fn string(b: &[u8], mut i: usize) -> (usize, TokenKind) {
    i += if b[i] == b'b' { 2 } else { 1 };
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
    (i.min(b.len()), TokenKind::Str { closed })
}

/// A char `'c'` (or `'\n'`, `'\x41'`, `'\u{e9}'`) starting at `i`, or a lone `'` as punctuation.
fn char_literal(text: &str, i: usize) -> (usize, TokenKind) {
    let b = text.as_bytes();
    let mut j = i + 1;
    if b.get(j) == Some(&b'\\') {
        j += 2;
        // The rest of an escape with digits: `x41`, `u{e9}`; at most `u{10FFFF}`.
        let rest = b.get(j..).unwrap_or_default();
        j += rest
            .iter()
            .take(9)
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'{' | b'}'))
            .count();
    } else if j < b.len() {
        j += char_len(text, j);
    }
    if b.get(j) == Some(&b'\'') {
        (j + 1, TokenKind::Char)
    } else {
        (i + 1, TokenKind::Punct)
    }
}

/// The end of a name starting at `start` (`r#` included), at least one character on.
fn ident_end(text: &str, start: usize) -> usize {
    let b = text.as_bytes();
    let mut i = start;
    if b[i] == b'r' && b.get(i + 1) == Some(&b'#') {
        i += 2;
    }
    while i < b.len() && ident_char(b[i]) {
        i += 1;
    }
    i = floor_char_boundary(text, i);
    if i == start {
        i += char_len(text, i);
    }
    i
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

/// The contents of a group as read so far.
#[derive(Default)]
struct Body {
    fields: Vec<Field>,
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
}

/// Builds the value tree from tokens.
struct Reader<'t> {
    tokens: &'t [Token],
    text: &'t str,
    p: usize,
    open: Vec<(usize, u8)>,
    /// Where and why reading stopped, once it has.
    stop: Option<Stop>,
    /// The first thing read that is not RON but did not stop the reader: a struct's field and a
    /// tuple's item in one pair of parentheses.
    flaw: Option<Stop>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.p).copied()
    }

    fn punct(&self, t: Option<Token>) -> Option<u8> {
        t.filter(|t| t.kind == TokenKind::Punct && t.end == t.start + 1)
            .map(|t| self.text.as_bytes()[t.start])
    }

    /// Stops reading at the next token (the first reason given stands).
    fn halt(&mut self, why: Why) {
        if self.stop.is_none() {
            let at = self.peek().map_or(self.text.len(), |t| t.start);
            self.stop = Some(Stop { at, why });
        }
    }

    fn atom(&self, start: usize, end: usize) -> Node {
        Node::Atom {
            text: self.text[start..end].to_string(),
            span: Span { start, end },
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if self.stop.is_some() {
            return None;
        }
        let Some(t) = self.peek() else {
            self.halt(Why::End);
            return None;
        };
        if depth > DEPTH_MAX {
            self.halt(Why::TooDeep);
            return None;
        }
        match (t.kind, self.punct(Some(t))) {
            (TokenKind::Str { closed: false }, _) => {
                self.halt(Why::UnclosedString);
                None
            }
            (TokenKind::Str { .. } | TokenKind::Char | TokenKind::Number, _) => {
                self.p += 1;
                Some(self.atom(t.start, t.end))
            }
            (TokenKind::Ident, _) => {
                self.p += 1;
                if self.punct(self.peek()) == Some(b'(') {
                    let name = self.text[t.start..t.end].to_string();
                    Some(self.group(t.start, Some(name), depth))
                } else {
                    Some(self.atom(t.start, t.end))
                }
            }
            (_, Some(b'(' | b'[' | b'{')) => Some(self.group(t.start, None, depth)),
            (_, Some(b'-' | b'+')) if self.tokens.get(self.p + 1).is_some() => self.signed(t),
            (_, Some(b'#')) => self.attribute(depth),
            _ => {
                self.halt(Why::Unexpected);
                None
            }
        }
    }

    /// `-inf`, `-NaN`: a sign before a name.
    fn signed(&mut self, sign: Token) -> Option<Node> {
        let next = self.tokens[self.p + 1];
        if next.kind == TokenKind::Ident && next.start == sign.end {
            self.p += 2;
            Some(self.atom(sign.start, next.end))
        } else {
            self.halt(Why::Unexpected);
            None
        }
    }

    /// An attribute such as `#![enable(implicit_some)]`, then the value it is about.
    fn attribute(&mut self, depth: usize) -> Option<Node> {
        self.p += 1;
        if self.punct(self.peek()) == Some(b'!') {
            self.p += 1;
        }
        if self.punct(self.peek()) != Some(b'[') {
            self.halt(Why::Unexpected);
            return None;
        }
        let attr = self.peek().map_or(0, |t| t.start);
        let _ = self.group(attr, None, depth);
        self.value(depth)
    }

    /// A group whose opening bracket is the next token; `start` is where its value starts (the
    /// name, for `Name(...)`).
    fn group(&mut self, start: usize, name: Option<String>, depth: usize) -> Node {
        let open_tok = self.peek().expect("group starts at a bracket");
        let open = self.text.as_bytes()[open_tok.start];
        let (close, separator) = match open {
            b'(' => (b')', "`,` or `)`"),
            b'[' => (b']', "`,` or `]`"),
            _ => (b'}', "`,` or `}`"),
        };
        self.p += 1;
        self.open.push((open_tok.start, open));
        let mut body = Body::default();
        let end = loop {
            if self.stop.is_some() {
                break OPEN;
            }
            let t = self.peek();
            if self.punct(t) == Some(close) {
                self.p += 1;
                self.open.pop();
                break t.map_or(self.text.len(), |t| t.end);
            }
            self.entry(open, depth, &mut body);
            if self.stop.is_some() {
                continue;
            }
            match self.punct(self.peek()) {
                Some(b',') => self.p += 1,
                Some(c) if c == close => {}
                _ => self.halt(Why::Expected(separator)),
            }
        };
        let span = Span { start, end };
        match open {
            b'(' => Node::Parens {
                name,
                fields: body.fields,
                items: body.items,
                span,
            },
            b'[' => Node::List {
                items: body.items,
                span,
            },
            _ => Node::Map {
                entries: body.entries,
                span,
            },
        }
    }

    /// One entry of a group: `name: value` in parentheses, `key: value` in braces, else a value.
    fn entry(&mut self, open: u8, depth: usize, body: &mut Body) {
        let t = self.peek();
        let is_field = open == b'('
            && t.is_some_and(|t| t.kind == TokenKind::Ident)
            && self.punct(self.tokens.get(self.p + 1).copied()) == Some(b':');
        if open == b'(' && self.flaw.is_none() {
            // Where a reader that knows structs from tuples would stop: at the `:` after a
            // tuple's item, or at an item after a struct's field.
            let mixed = match (is_field, t) {
                (true, _) if !body.items.is_empty() => Some((self.p + 1, "`,` or `)`")),
                (false, Some(_)) if !body.fields.is_empty() => Some((self.p, "a field name")),
                _ => None,
            };
            self.flaw = mixed.map(|(token, what)| Stop {
                at: self.tokens[token].start,
                why: Why::Expected(what),
            });
        }
        if is_field {
            let key = t.expect("checked above");
            self.p += 2;
            body.fields.push(self.field(key, depth));
        } else if open == b'{' {
            let key = self.value(depth + 1);
            if self.punct(self.peek()) != Some(b':') {
                self.halt(Why::Expected("`:`"));
                return;
            }
            self.p += 1;
            if let (Some(k), Some(v)) = (key, self.value(depth + 1)) {
                body.entries.push((k, v));
            }
        } else if let Some(v) = self.value(depth + 1) {
            body.items.push(v);
        }
    }

    /// The value of the field whose name is `key`, the `:` read.
    fn field(&mut self, key: Token, depth: usize) -> Field {
        let name = self.text[key.start..key.end].trim_start_matches("r#");
        // A value that could not be read keeps its field, open-ended, so that a position inside
        // it still belongs to the field.
        let value = self.value(depth + 1).unwrap_or_else(|| {
            let at = self.stop.map_or(key.end, |s| s.at);
            Node::Atom {
                text: String::new(),
                span: Span {
                    start: at,
                    end: OPEN,
                },
            }
        });
        Field {
            name: name.to_string(),
            key: Span {
                start: key.start,
                end: key.end,
            },
            span: Span {
                start: key.start,
                end: value.span().end,
            },
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn counts_columns_in_characters() {
        // Each of `é`, `☕` and `𝄞` is one column, however many bytes it takes.
        let text = "a: \"é☕𝄞\", b: 1\n  \"ü\" x";
        let b = text.find("b:").unwrap();
        assert_eq!(line_col(text, b), (1, 11));
        assert_eq!(offset_at(text, 1, 11), b);
        let x = text.rfind('x').unwrap();
        assert_eq!(line_col(text, x), (2, 7));
        assert_eq!(offset_at(text, 2, 7), x);
        // Inside a character: that character. Past the end: the end.
        assert_eq!(line_col(text, text.find('☕').unwrap() + 1), (1, 6));
        assert_eq!(line_col(text, usize::MAX), (2, 8));
        assert_eq!(offset_at(text, 9, 1), text.len());
        assert_eq!(offset_at(text, 1, 99), text.len());
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
    fn parses_whole_values_only() {
        let ok = |text: &str| parse(text).map(|n| n.span());
        assert_eq!(
            ok("#![enable(implicit_some)]\nS(r#type: br\"x\", c: 'é')")
                .unwrap()
                .start,
            26
        );
        assert!(ok(r"['\'', '\\', '\n', '\x41', '\u{1F600}']").is_ok());
        let err = |text: &str| {
            let e = parse(text).unwrap_err();
            (e.message, e.offset)
        };
        assert_eq!(err("(a: 1"), ("expected `,` or `)`".into(), 5));
        assert_eq!(err("(a: "), ("unexpected end of text".into(), 4));
        assert_eq!(err("(a: \"x)"), ("unclosed string".into(), 4));
        assert_eq!(err("(a: 1 b)"), ("expected `,` or `)`".into(), 6));
        assert_eq!(err("{1 2}"), ("expected `:`".into(), 3));
        assert_eq!(err("(a: ;)"), ("unexpected character `;`".into(), 4));
        assert_eq!(err("() /*"), ("unclosed block comment".into(), 3));
        assert_eq!(
            err("() ()"),
            ("unexpected text after the scenario".into(), 3)
        );
        assert_eq!(err(&"[".repeat(600)).0, "the text nests too deeply");
        // A struct's fields and a tuple's items do not mix.
        assert_eq!(err("(a: 1, 2)"), ("expected a field name".into(), 7));
        assert_eq!(err("(1, a: 2)"), ("expected `,` or `)`".into(), 5));
        assert_eq!(err("(a: ; /*"), ("unexpected character `;`".into(), 4));
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
            let _ = parse(text);
        }
        let deep = "[".repeat(10_000);
        let _ = SourceMap::new(&deep).path_at(5000);
    }
}
