//! Ron's errors in our words: where the problem is (line, column and field path, found with the
//! [`SourceMap`]), what was expected and what was found, with a suggestion when one is likely.
//! Messages are lowercase, quote values in backticks, and fit on one line.

use super::names::{canonical, false_friend};
use super::reader::{SourceMap, Token, TokenKind};
use super::spec::{Arrivals, Balancer, DistSpec, Placement, RateChange, Step};
use crate::error::{closest, one_of, Problem};
use ron::error::Error as E;

/// Where ron's error is, as the text shows it.
struct Site<'m, 'a> {
    map: &'m SourceMap<'a>,
    /// Where ron points.
    at: usize,
    /// The field path of the value around `at`.
    path: String,
    /// Where that value starts.
    value_start: usize,
    /// Where the offending value starts: ron points into a string, or at the space before a value.
    value_pos: usize,
    /// What is at `at`, quoted.
    found: String,
}

impl<'m, 'a> Site<'m, 'a> {
    fn new(e: &ron::error::SpannedError, map: &'m SourceMap<'a>) -> Site<'m, 'a> {
        let at = map.offset(e.span.start.line, e.span.start.col);
        let (path, value_start) = map.path_at(at).unwrap_or_default();
        let value_pos = match map.token_at(at) {
            Some(t) if t.start < at => t.start,
            _ if value_start > at => value_start,
            _ => at,
        };
        Site {
            map,
            at,
            path,
            value_start,
            value_pos,
            found: found_at(map, at),
        }
    }

    /// ` in `outer``, for a problem at the top level inside a named struct.
    fn within(&self, outer: &Option<String>) -> String {
        match outer {
            Some(o) if self.path.is_empty() => format!(" in `{o}`"),
            _ => String::new(),
        }
    }

    /// A problem at ron's position and path.
    fn says(&self, message: String) -> Said {
        Said {
            message,
            position: self.at,
            path: self.path.clone(),
            suggestion: None,
        }
    }

    /// A problem at the start of the offending value.
    fn says_of_value(&self, message: String) -> Said {
        self.says(message).at(self.value_pos)
    }
}

/// The token at `offset`, quoted, or the end of the file.
fn found_at(map: &SourceMap, offset: usize) -> String {
    match map.token_at(offset) {
        Some(t) => format!("`{}`", map.snippet(t)),
        None => "the end of the file".to_string(),
    }
}

/// A problem as translated: the message, where it points, its path and a suggestion.
struct Said {
    message: String,
    position: usize,
    path: String,
    suggestion: Option<String>,
}

impl Said {
    fn at(self, position: usize) -> Said {
        Said { position, ..self }
    }

    fn suggesting(self, suggestion: Option<String>) -> Said {
        Said { suggestion, ..self }
    }
}

/// Turns a ron error into a problem in our words: where it is (position and field path), what was
/// expected, what was found.
pub(super) fn ron_problem(e: &ron::error::SpannedError, map: &SourceMap) -> Problem {
    let site = Site::new(e, map);
    let said = unknown_or_missing(&site, &e.code)
        .or_else(|| wrong_value(&site, &e.code))
        .or_else(|| wrong_structure(&site, &e.code))
        .unwrap_or_else(|| wrong_text(&site, &e.code));
    Problem {
        position: Some(map.position(said.position)),
        path: Some(said.path).filter(|p| !p.is_empty()),
        // One problem, one line: a value quoted from the text may hold a line break.
        message: said.message.replace('\r', "").replace('\n', "\\n"),
        suggestion: said.suggestion,
    }
}

/// Fields and variants unknown, missing or given twice.
fn unknown_or_missing(site: &Site, code: &E) -> Option<Said> {
    let unknown = |what: &str, found: &str, expected: &[&str], outer: &Option<String>| {
        let suggestion = closest(found, expected.iter().copied());
        // Other libraries' names are accepted, and suggested, but not listed.
        let ours: Vec<&str> = (expected.iter().copied())
            .filter(|n| canonical(n) == *n)
            .collect();
        let message = match suggestion {
            Some(_) => format!("unknown {what} `{found}`{}", site.within(outer)),
            None => format!(
                "unknown {what} `{found}`{}; expected {}",
                site.within(outer),
                one_of(&ours)
            ),
        };
        site.says(message).suggesting(suggestion)
    };
    Some(match code {
        E::NoSuchStructField {
            expected,
            found,
            outer,
        } => match outer.as_deref().and_then(|o| false_friend(o, found)) {
            Some(advice) => site.says(format!(
                "unknown field `{found}`{}: {advice}",
                site.within(outer)
            )),
            None => unknown("field", found, expected, outer),
        },
        E::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => unknown("variant", found, expected, outer),
        // Point at the start of the struct that lacks it, not at its closing parenthesis.
        E::MissingStructField { field, outer } => site
            .says(format!("missing field `{field}`{}", site.within(outer)))
            .at(site.value_start),
        E::DuplicateStructField { field, outer } => site.says(format!(
            "field `{field}` is given twice{}",
            site.within(outer)
        )),
        _ => return None,
    })
}

/// A value of the wrong kind or out of range.
fn wrong_value(site: &Site, code: &E) -> Option<Said> {
    let found = || found_at(site.map, site.value_pos);
    let message = match code {
        E::Message(m) => return Some(custom_message(site, m)),
        E::InvalidValueForType { expected, found } => {
            return Some(invalid_value(site, expected, found))
        }
        E::ExpectedDifferentLength { expected, found } => {
            let n = match found {
                0 => "none".to_string(),
                1 => "one".to_string(),
                n => n.to_string(),
            };
            format!("expected {expected}, found {n}")
        }
        E::ExpectedInteger | E::IntegerOutOfBounds
            if site.found.starts_with("`-") && site.found.len() > 2 =>
        {
            format!("expected a whole number of 0 or more, found {}", found())
        }
        E::IntegerOutOfBounds => format!("the number {} is too large here", found()),
        E::ExpectedInteger => format!("expected a whole number, found {}", found()),
        E::ExpectedFloat => format!("expected a number, found {}", found()),
        E::ExpectedString => format!("expected a string in double quotes, found {}", found()),
        E::ExpectedBoolean => format!("expected `true` or `false`, found {}", found()),
        _ => return None,
    };
    Some(site.says_of_value(message))
}

/// A message of the spec's own (a duration without a unit, a queue that is not a length), or of
/// serde's about a string that swallowed the text after it.
fn custom_message(site: &Site, m: &str) -> Said {
    let map = site.map;
    let literal = map
        .token_at(site.value_pos)
        .map(|t| &map.text()[t.start..t.end])
        .unwrap_or_default();
    let content = literal
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or(literal);
    let is_string = literal.starts_with('"');
    let mut suggestion = None;
    let message = if is_string && literal.contains('\n') {
        let (line, _) = map.position(site.value_pos + literal.len());
        format!("this string runs on to line {line}; is its closing `\"` missing?")
    } else if is_string && swallowed_text(content) {
        let shown: String = content.chars().take(40).collect();
        format!("this string runs into the text after it (`{shown}`); is its closing `\"` missing?")
    } else if m.starts_with("duration `") && content.starts_with('-') {
        format!("duration `{content}` is negative; a duration is zero or more")
    } else {
        if is_string && site.path.ends_with(".queue") {
            suggestion = closest(content, ["unbounded", "none"]).map(|s| quoted(&s));
        }
        backtick_strings(m)
    };
    site.says_of_value(message).suggesting(suggestion)
}

/// A value of another type than the field's, or a newtype written with a field name.
fn invalid_value(site: &Site, expected: &str, found: &str) -> Said {
    let expected = backtick_strings(&friendly_type(expected));
    match named_fields_instead(site.map, site.value_pos) {
        Some((name, field, field_pos)) => {
            let mut said = site
                .says(format!(
                    "`{name}` takes its value directly, not as a field: remove `{field}:`"
                ))
                .at(field_pos);
            if let Some((p, _)) = site.map.path_at(field_pos) {
                said.path = p;
            }
            said
        }
        // ron calls a missing value "a unit value"; quote the text instead.
        None if found == "a unit value" => site.says_of_value(format!(
            "expected {expected}, found {}",
            found_at(site.map, site.value_pos)
        )),
        None => site.says_of_value(format!("expected {expected}, found {found}")),
    }
}

/// Punctuation or a name missing where the structure needs one.
fn wrong_structure(site: &Site, code: &E) -> Option<Said> {
    let (map, found) = (site.map, &site.found);
    let message = match code {
        E::ExpectedComma => {
            let (message, position) = expected_comma(map, site.at);
            return Some(site.says(message).at(position));
        }
        E::ExpectedIdentifier => return Some(expected_identifier(site)),
        E::ExpectedMapColon => {
            let key = map
                .token_before(site.at)
                .map(|t| format!(" after `{}`", map.snippet(t)))
                .unwrap_or_default();
            format!("expected `:`{key}, found {found}")
        }
        E::ExpectedArray => format!("expected a list in `[...]`, found {found}"),
        E::ExpectedArrayEnd => format!("expected `,` or `]`, found {found}"),
        E::ExpectedStructLike => format!("expected `(`, found {found}"),
        E::ExpectedNamedStructLike("") => format!("expected `(`, found {found}"),
        // Inner structs are written without their type's name: `(name: "db", ...)`.
        E::ExpectedNamedStructLike(_) if !site.path.is_empty() => {
            format!("expected `(`, found {found}")
        }
        E::ExpectedNamedStructLike(name) if map.token_at(0).is_none() => {
            let message = format!("the file holds no scenario; expected `{name}(...)`");
            return Some(site.says(message).at(0));
        }
        E::ExpectedNamedStructLike(name) => format!("expected `{name}(...)`, found {found}"),
        E::ExpectedDifferentStructName { expected, found } if site.path.is_empty() => {
            format!("expected `{expected}(...)`, found `{found}(...)`")
        }
        // Inner structs are written without their type's name: `(name: "db", ...)`.
        E::ExpectedDifferentStructName { found, .. } => format!("expected `(`, found `{found}`"),
        E::ExpectedStructLikeEnd | E::ExpectedOptionEnd => {
            format!("expected `,` or `)`, found {found}")
        }
        E::ExpectedMap => format!("expected `{{`, found {found}"),
        E::ExpectedMapEnd => format!("expected `,` or `}}`, found {found}"),
        _ => return None,
    };
    Some(site.says(message))
}

/// A name expected: a field's (`name: value`), an enum variant's (with the variants the field
/// takes), or any.
fn expected_identifier(site: &Site) -> Said {
    let (map, at, found) = (site.map, site.at, &site.found);
    let before = map.token_before(at).map(|t| &map.text()[t.start..t.end]);
    let inside = map.enclosing_bracket(at);
    let wants_field =
        inside == Some(b'(') && matches!(before, Some("(" | ",")) && !site.path.is_empty();
    let mut said = site.says(String::new());
    if wants_field {
        // The struct that wants the field, not the value written in its place.
        if let Some((p, _)) = map.token_before(at).and_then(|t| map.path_at(t.start)) {
            said.path = p;
        }
    }
    said.message = match enum_at(&said.path).filter(|_| !wants_field) {
        Some((variants, what)) => {
            if variants == variants_of::<DistSpec>()
                && map
                    .token_at(at)
                    .is_some_and(|t| matches!(t.kind, TokenKind::Str { .. }))
            {
                said.suggestion = Some(format!("Constant({})", found.trim_matches('`')));
            }
            format!("expected {what}: {}, found {found}", one_of(variants))
        }
        None if wants_field => format!("expected a field name (`name: value`), found {found}"),
        None => format!("expected a name, found {found}"),
    };
    said
}

/// Text that is not RON: strings, escapes, comments, numbers, characters, the end of the file.
fn wrong_text(site: &Site, code: &E) -> Said {
    let (map, at, found) = (site.map, site.at, &site.found);
    match code {
        E::ExpectedStringEnd => {
            let position = map.token_at(at).map_or(at, |t| t.start);
            let message = "this string is never closed; is its closing `\"` missing?";
            site.says(message.to_string()).at(position)
        }
        E::InvalidEscape(_) => {
            let (position, escape) = bad_escape(map, at);
            let message = match escape {
                Some(esc) => {
                    format!("unknown escape `{esc}` in a string; write `\\\\` for a backslash")
                }
                None => "invalid escape in a string; write `\\\\` for a backslash".to_string(),
            };
            site.says(message).at(position)
        }
        E::UnclosedBlockComment => site
            .says("this `/*` comment is never closed; end it with `*/`".to_string())
            .at(map.unclosed_comment().unwrap_or(at)),
        E::TrailingCharacters => {
            let position = map.trailing().unwrap_or(at);
            let found = found_at(map, position);
            site.says(format!("unexpected {found} after the end of the scenario"))
                .at(position)
        }
        E::Eof => site.says(format!("unexpected end of the file{}", never_closed(map))),
        _ => site.says(lexical_message(code, found)),
    }
}

/// `; `(` at 3:9 is never closed`, when the reader read to the end with a bracket open.
fn never_closed(map: &SourceMap) -> String {
    map.open_brackets()
        .last()
        .filter(|_| map.read_to_end())
        .map(|&(offset, c)| {
            let (line, col) = map.position(offset);
            format!("; `{}` at {line}:{col} is never closed", c as char)
        })
        .unwrap_or_default()
}

/// The message for an error in a token, or for any other error of ron's, at ron's position.
fn lexical_message(code: &E, found: &str) -> String {
    match code {
        E::InvalidIntegerDigit { digit, base: 10 } => {
            format!("invalid digit `{}` in a number", digit.escape_debug())
        }
        E::InvalidIntegerDigit { digit, base } => format!(
            "invalid digit `{}` in a base-{base} number",
            digit.escape_debug()
        ),
        E::UnderscoreAtBeginning => "a number cannot start with `_`".to_string(),
        E::FloatUnderscore => "unexpected `_` in a number".to_string(),
        E::ExpectedChar => format!("expected a character in single quotes, found {found}"),
        E::ExpectedAttribute => format!("expected an attribute `#![enable(...)]`, found {found}"),
        E::SuggestRawIdentifier(_) | E::InvalidIdentifier(_) => {
            format!("expected a name, found {found}")
        }
        E::UnexpectedChar(c) => format!("unexpected character `{}`", c.escape_debug()),
        E::ExceededRecursionLimit => {
            "values are nested too deeply (more than 128 levels)".to_string()
        }
        E::NoSuchExtension(name) => format!("unknown RON extension `{name}`"),
        E::Utf8Error(_) => "the file is not valid UTF-8 text".to_string(),
        other => backtick_strings(&lowercase_first(&other.to_string())),
    }
}

/// The variant names of an enum of the spec, read from its `Deserialize` impl so that messages
/// never fall out of step with the format.
fn variants_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not an enum"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = variants;
            Err(Self::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
            ignored_any
        }
    }
    let mut variants: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut variants));
    variants
}

/// The enum a value at `path` is, as far as messages need to know: its variants, and what to call
/// one of them.
fn enum_at(path: &str) -> Option<(&'static [&'static str], &'static str)> {
    let last = path.rsplit('.').next()?;
    let (field, indexed) = match last.split_once('[') {
        Some((f, _)) => (f, true),
        None => (last, false),
    };
    Some(match (field, indexed) {
        (
            "work" | "same_host" | "same_rack" | "same_zone" | "cross_zone" | "cross_region"
            | "client",
            false,
        ) => (variants_of::<DistSpec>(), "a distribution"),
        ("placement", false) => (variants_of::<Placement>(), "a placement"),
        ("balancer", false) => (variants_of::<Balancer>(), "a balancer"),
        ("arrivals", false) => (variants_of::<Arrivals>(), "an arrival process"),
        ("calls", true) => (variants_of::<Step>(), "a call step"),
        ("schedule", true) => (variants_of::<RateChange>(), "a rate change"),
        _ => return None,
    })
}

/// A message for a missing comma, and where to point: usually just after the value that lacks
/// its comma, since that is where one is typed.
fn expected_comma(map: &SourceMap, at: usize) -> (String, usize) {
    let text = map.text();
    let next = map.token_at(at);
    let before = map.token_before(at);
    // `1.5` where a whole number is expected: ron stops at the `.`.
    if let Some(t) = next.filter(|t| t.start < at && t.kind == TokenKind::Number) {
        return (
            format!("expected a whole number, found `{}`", map.snippet(t)),
            t.start,
        );
    }
    let found = next.map_or("the end of the file".to_string(), |t| {
        format!("`{}`", map.snippet(t))
    });
    let Some(before) = before else {
        return (format!("expected `,`, found {found}"), at);
    };
    let before_text = &text[before.start..before.end];
    // A string that swallowed the line break: its closing quote is most likely missing.
    if matches!(before.kind, TokenKind::Str { .. }) && before_text.contains('\n') {
        let (line, _) = map.position(before.end);
        return (
            format!(
                "this string runs on to line {line}, where {found} follows it; is its closing `\"` missing?"
            ),
            before.start,
        );
    }
    // `RoundRobin()`: a unit variant written with parentheses.
    if before.kind == TokenKind::Ident && next.is_some_and(|t| &text[t.start..t.end] == "(") {
        return (
            format!("`{before_text}` takes no parentheses; write it as `{before_text}`"),
            next.map_or(at, |t| t.start),
        );
    }
    match next {
        Some(t) if matches!(text.as_bytes()[t.start], b')' | b']' | b'}') => {
            let close = match map.enclosing_bracket(at) {
                Some(b'(') => "`)`",
                Some(b'[') => "`]`",
                Some(b'{') => "`}`",
                _ => "a closing bracket",
            };
            (format!("expected `,` or {close}, found {found}"), at)
        }
        Some(_) => (format!("missing `,` before {found}"), before.end),
        None => (format!("expected `,`, found {found}"), at),
    }
}

/// Whether the text of a string looks like it ran on past its value into the text after it, as
/// happens when a closing quote is missing: `20s), Step(to_per_s: 400, at: `.
fn swallowed_text(content: &str) -> bool {
    [", ", "),", "],", ")]"].iter().any(|s| content.contains(s))
        || content.trim_end().ends_with(':')
}

/// `"text"`.
fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// For `Constant(mean: "3ms")`, a newtype variant written with a field name, and `at` on the field
/// or its value: the variant's name, the field's name and where the field starts.
fn named_fields_instead(map: &SourceMap, at: usize) -> Option<(String, String, usize)> {
    let text = map.text();
    let is = |t: Option<Token>, s: &str| t.is_some_and(|t| &text[t.start..t.end] == s);
    let here = map.token_at(at)?;
    let field = if here.kind == TokenKind::Ident && is(map.token_at(here.end), ":") {
        here
    } else {
        let colon = map.token_before(here.start).filter(|&t| is(Some(t), ":"))?;
        map.token_before(colon.start)
            .filter(|t| t.kind == TokenKind::Ident)?
    };
    let open = map
        .token_before(field.start)
        .filter(|&t| is(Some(t), "("))?;
    let name = map
        .token_before(open.start)
        .filter(|t| t.kind == TokenKind::Ident)?;
    Some((
        text[name.start..name.end].to_string(),
        text[field.start..field.end].to_string(),
        field.start,
    ))
}

/// The position and text of the first invalid escape in the string at or after `at`.
fn bad_escape(map: &SourceMap, at: usize) -> (usize, Option<String>) {
    let Some(t) = map.token_at(at) else {
        return (at, None);
    };
    let s = &map.text()[t.start..t.end];
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            continue;
        }
        let Some(&(_, e)) = chars.peek() else { break };
        chars.next();
        if !matches!(
            e,
            '\\' | '"' | '\'' | 'n' | 'r' | 't' | '0' | 'x' | 'u' | 'b' | 'f' | '/'
        ) {
            return (t.start + i, Some(format!("\\{e}")));
        }
    }
    (t.start, None)
}

/// Rust's names for the types of serde messages, in words.
fn friendly_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "`true` or `false`".into(),
        other => other.into(),
    }
}

/// Puts double-quoted text that is not already in backticks into backticks: `like "250ms"`
/// becomes ``like `"250ms"` ``, in the style of every other message.
fn backtick_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    let mut in_ticks = false;
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_ticks = !in_ticks;
        } else if c == '"' && !in_ticks {
            if let Some(end) = rest[1..].find('"') {
                out.push('`');
                out.push_str(&rest[..end + 2]);
                out.push('`');
                rest = &rest[end + 2..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

pub(super) fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_variant_names_from_the_spec() {
        assert_eq!(variants_of::<Step>(), &["Call", "Parallel"]);
        assert!(variants_of::<DistSpec>().contains(&"LogNormal"));
        assert!(variants_of::<super::super::spec::Scenario>().is_empty());
    }

    #[test]
    fn puts_quoted_values_in_backticks() {
        assert_eq!(
            backtick_strings(r#"write it like "250ms", not `"250"`"#),
            r#"write it like `"250ms"`, not `"250"`"#
        );
        assert_eq!(backtick_strings(r#"a lone " quote"#), r#"a lone " quote"#);
    }
}
