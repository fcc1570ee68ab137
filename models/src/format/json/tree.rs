//! JSON text as a tree of values with their places (character indexes), read from text that
//! serde_json has already accepted: the conversion to RON edits the text at these places.

/// A JSON value and where it is, in characters from the start of the text.
#[derive(Clone, Debug)]
pub(super) enum JNode {
    Object {
        open: usize,
        close: usize,
        entries: Vec<Entry>,
    },
    Array {
        open: usize,
        close: usize,
        items: Vec<JNode>,
    },
    /// A string: `start` is its opening quote, `end` one past its closing quote.
    Str {
        start: usize,
        end: usize,
        value: String,
    },
    Null {
        start: usize,
    },
    Bool {
        start: usize,
    },
    /// A number: left as written.
    Other {
        start: usize,
    },
}

/// `"key": value` in an object.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The key as a string node (its place and its value).
    pub key: JNode,
    /// Where its colon is.
    pub colon: usize,
    pub value: JNode,
}

impl JNode {
    /// Where the value starts.
    pub fn start(&self) -> usize {
        match self {
            JNode::Object { open, .. } | JNode::Array { open, .. } => *open,
            JNode::Str { start, .. }
            | JNode::Null { start }
            | JNode::Bool { start }
            | JNode::Other { start } => *start,
        }
    }

    /// The value of a string node.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JNode::Str { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether the string was written without escapes (its text is its value, quoted).
    pub fn plain(&self) -> bool {
        match self {
            JNode::Str { start, end, value } => end - start == value.chars().count() + 2,
            _ => false,
        }
    }
}

/// Reads the tree of `chars`, which must be JSON that serde_json accepted (its nesting is
/// bounded by serde_json's recursion limit, so this recursion is too).
pub(super) fn read(chars: &[char]) -> JNode {
    let mut r = Reader { chars, at: 0 };
    let node = r.value();
    r.skip_ws();
    assert_eq!(r.at, chars.len(), "the JSON was read whole");
    node
}

struct Reader<'a> {
    chars: &'a [char],
    at: usize,
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.chars.len() && self.chars[self.at].is_whitespace() {
            self.at += 1;
        }
    }

    fn expect(&mut self, c: char) -> usize {
        self.skip_ws();
        assert_eq!(self.chars.get(self.at), Some(&c), "valid JSON");
        self.at += 1;
        self.at - 1
    }

    fn value(&mut self) -> JNode {
        self.skip_ws();
        let start = self.at;
        match self.chars[start] {
            '{' => self.object(),
            '[' => self.array(),
            '"' => self.string(),
            'n' => {
                self.at += 4;
                JNode::Null { start }
            }
            't' | 'f' => {
                self.at += if self.chars[start] == 't' { 4 } else { 5 };
                JNode::Bool { start }
            }
            _ => {
                while self.at < self.chars.len()
                    && !matches!(self.chars[self.at], ',' | ']' | '}')
                    && !self.chars[self.at].is_whitespace()
                {
                    self.at += 1;
                }
                JNode::Other { start }
            }
        }
    }

    fn object(&mut self) -> JNode {
        let open = self.expect('{');
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.chars[self.at] == '}' {
                break;
            }
            if !entries.is_empty() {
                self.expect(',');
                self.skip_ws();
            }
            let key = self.string();
            let colon = self.expect(':');
            let value = self.value();
            entries.push(Entry { key, colon, value });
        }
        let close = self.expect('}');
        JNode::Object {
            open,
            close,
            entries,
        }
    }

    fn array(&mut self) -> JNode {
        let open = self.expect('[');
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.chars[self.at] == ']' {
                break;
            }
            if !items.is_empty() {
                self.expect(',');
            }
            items.push(self.value());
        }
        let close = self.expect(']');
        JNode::Array { open, close, items }
    }

    fn string(&mut self) -> JNode {
        let start = self.expect('"');
        let mut k = self.at;
        while self.chars[k] != '"' {
            k += if self.chars[k] == '\\' { 2 } else { 1 };
        }
        self.at = k + 1;
        let text: String = self.chars[start..self.at].iter().collect();
        let value = serde_json::from_str::<String>(&text).expect("serde_json read it");
        JNode::Str {
            start,
            end: self.at,
            value,
        }
    }
}
