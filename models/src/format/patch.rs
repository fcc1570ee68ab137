//! Variants as patches on the scenario text.
//!
//! A variant says what differs from the base scenario by path: `set: {"services.api.workers": 64}`
//! and `unset: ["services.checkout.calls.payments.breaker"]`. Paths name things as the file does:
//! struct fields by name, list elements by their `name` (or, for calls, `to`) or by `[index]`.
//!
//! Values are written in RON and may be anything the field takes (`Exponential(mean: "2ms")`), so
//! patches are applied to the *text*: the RON reader ([`super::reader`]) finds the span of every
//! value, edits replace, insert or remove spans, and the edited text is parsed by the ordinary
//! typed parser. The file format is therefore defined in one place only (`spec/`), and a variant
//! can change any field without a parallel "patch" type.

pub use super::reader::{Field, Node, Span};
use std::fmt;

/// An error in reading RON text or applying a patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    pub message: String,
    /// Byte offset in the text, when the error is in the text itself.
    pub offset: Option<usize>,
    /// The path of the change that failed, as written in the variant or grid.
    pub path: Option<String>,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn err<T>(message: String, offset: Option<usize>) -> Result<T, PatchError> {
    Err(PatchError {
        message,
        offset,
        path: None,
    })
}

/// Reads RON text, which must be one whole value, into nodes with spans.
pub fn parse(text: &str) -> Result<Node, PatchError> {
    super::reader::parse(text).map_err(|e| PatchError {
        message: e.message,
        offset: Some(e.offset),
        path: None,
    })
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
    /// An element of a list (`faults[0]`, `services.db`): `set` replaces it, `unset` removes it.
    Element(&'n Node),
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
        if let Node::Parens { items: inner, .. } = item {
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
        Node::Parens { fields, .. } => fields.iter().map(|f| f.name.clone()).collect(),
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

/// The steps of a path: names, and `[index]` for list elements. `services[2].workers` and
/// `services.[2].workers` are the same path (the second is the older spelling).
pub fn segments(path: &str) -> Result<Vec<String>, PatchError> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        // A part may be a name followed by indexes (`calls[0][1]`), or indexes alone.
        let name_end = rest.find('[').unwrap_or(rest.len());
        if name_end > 0 {
            out.push(rest[..name_end].to_string());
        }
        rest = &rest[name_end..];
        while !rest.is_empty() {
            let close = rest.find(']').filter(|_| rest.starts_with('['));
            let Some(close) = close else {
                return err(
                    format!("path `{path}`: `{rest}` is not an index such as `[0]`"),
                    None,
                );
            };
            out.push(rest[..=close].to_string());
            rest = &rest[close + 1..];
        }
        if part.is_empty() {
            return err(format!("path `{path}` has an empty step"), None);
        }
    }
    Ok(out)
}

/// Steps joined as paths are printed everywhere: `services[2].workers`, `calls.db.timeout`.
pub fn join(segments: &[String]) -> String {
    let mut out = String::new();
    for seg in segments {
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// A path in the one form Faultline prints (`services[2].workers`); the path as given when it
/// cannot be read, so that the error about it quotes it.
pub fn canonical(path: &str) -> String {
    segments(path)
        .map(|s| join(&s))
        .unwrap_or_else(|_| path.to_string())
}

fn resolve<'n>(root: &'n Node, path: &str) -> Result<Target<'n>, PatchError> {
    let segments = segments(path)?;
    let path = join(&segments);
    let mut node = root;
    for (k, seg) in segments.iter().enumerate() {
        let last = k + 1 == segments.len();
        let here = join(&segments[..k]);
        let not_found = |node: &Node| {
            if seg.starts_with('[') {
                let n = node.elements().len();
                return PatchError {
                    message: format!("path `{path}`: `{here}` has {n} entries, so no `{seg}` (the first is `[0]`)"),
                    offset: None,
                    path: None,
                };
            }
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
                path: None,
            }
        };
        match node {
            // A struct (or `()`): a tuple has items instead.
            // A field is found by our name or another library's (`format::names`).
            Node::Parens { items, .. } if items.is_empty() => match node.field(seg) {
                Some(f) if last => return Ok(Target::Field(f)),
                Some(f) => node = &f.value,
                None if last => return Ok(Target::Missing(node, seg.to_string())),
                None => return Err(not_found(node)),
            },
            Node::List { items, .. } => {
                let found = element(items, seg).ok_or_else(|| not_found(node))?;
                if last {
                    return Ok(Target::Element(found));
                }
                node = found;
            }
            Node::Parens { items, .. } if items.len() == 1 => {
                // A newtype such as `InZone("a")` or `Parallel([...])`: look inside.
                let Node::List { items, .. } = &items[0] else {
                    if last {
                        return err(no_fields(&path, &here, seg), None);
                    }
                    // As before: a step into a newtype that holds no list is the newtype's value.
                    node = &items[0];
                    continue;
                };
                let found = element(items, seg).ok_or_else(|| not_found(&items[0]))?;
                if last {
                    return Ok(Target::Element(found));
                }
                node = found;
            }
            _ => return err(no_fields(&path, &here, seg), None),
        }
    }
    err(format!("path `{path}` is empty"), None)
}

fn no_fields(path: &str, here: &str, seg: &str) -> String {
    format!("path `{path}`: `{here}` has no fields to address with `{seg}`")
}

/// Applies `set` (path, RON text) and `unset` (path) to `text`, returning the edited text.
pub fn apply(
    text: &str,
    root: &Node,
    set: &[(String, String)],
    unset: &[String],
) -> Result<String, PatchError> {
    let mut edits = Vec::new();
    let at = |path: &String| {
        let path = path.clone();
        move |e: PatchError| PatchError {
            path: Some(path),
            ..e
        }
    };
    for (path, value) in set {
        edits.push(set_edit(text, root, path, value).map_err(at(path))?);
    }
    for path in unset {
        edits.push(unset_edit(text, root, path).map_err(at(path))?);
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

/// The edit that gives the value at `path` the RON text `value`: a replacement, or an insertion
/// of a field the struct leaves out.
fn set_edit(text: &str, root: &Node, path: &str, value: &str) -> Result<Edit, PatchError> {
    Ok(match resolve(root, path)? {
        Target::Field(f) => {
            let s = f.value.span();
            Edit {
                start: s.start,
                end: s.end,
                text: value.to_string(),
            }
        }
        Target::Element(node) => Edit {
            start: node.span().start,
            end: node.span().end,
            text: value.to_string(),
        },
        Target::Missing(node, name) => {
            // Insert right after the opening parenthesis, where a trailing comma is always
            // valid, whatever other edits do to the end of the struct.
            let start = node.span().start;
            let open = start + text[start..].find('(').expect("a struct has a parenthesis") + 1;
            Edit {
                start: open,
                end: open,
                text: format!("{name}: {value}, "),
            }
        }
    })
}

/// The edit that removes the field or list element at `path`, with its trailing comma (a comma
/// left before a list's closing bracket is still RON).
fn unset_edit(text: &str, root: &Node, path: &str) -> Result<Edit, PatchError> {
    let span = match resolve(root, path)? {
        Target::Field(f) => f.span,
        Target::Element(node) => node.span(),
        Target::Missing(node, name) => {
            let hint = crate::error::closest(&name, names_in(node).iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return err(
                format!(
                    "path `{}`: there is no `{name}` to unset{hint}",
                    canonical(path)
                ),
                None,
            );
        }
    };
    let mut end = span.end;
    let rest = &text[end..];
    let ws = rest.len() - rest.trim_start().len();
    if rest.trim_start().starts_with(',') {
        end += ws + 1;
    }
    Ok(Edit {
        start: span.start,
        end,
        text: String::new(),
    })
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
    fn a_path_finds_a_field_written_under_another_librarys_name_and_the_reverse() {
        let src = r#"(health: (interval: "1s", unhealthy_threshold: 2), retry: (attempts: 3))"#;
        let root = parse(src).unwrap();
        let set = |p: &str, v: &str| vec![(p.to_string(), v.to_string())];
        // Our name replaces the value written under Envoy's, instead of adding a second field.
        let out = apply(src, &root, &set("health.unhealthy_after", "5"), &[]).unwrap();
        assert!(out.contains("unhealthy_threshold: 5)"), "{out}");
        // And resilience4j's name finds ours.
        let out = apply(src, &root, &set("retry.max_attempts", "4"), &[]).unwrap();
        assert!(out.contains("retry: (attempts: 4)"), "{out}");
    }

    #[test]
    fn an_index_is_written_with_or_without_a_dot_and_printed_without() {
        let with = patch(&[("services.[1].workers", "3")], &[]).unwrap();
        let without = patch(&[("services[1].workers", "3")], &[]).unwrap();
        assert_eq!(with, without);
        assert!(with.contains(r#"(workers: 3, name: "db""#), "{with}");
        // Indexes follow each other, and into a `Parallel` group.
        let a = patch(&[("services.api.calls[1][0].to", "\"z\"")], &[]).unwrap();
        let b = patch(&[("services.api.calls.[1].[0].to", "\"z\"")], &[]).unwrap();
        assert_eq!(a, b);
        assert!(
            a.contains(r#"Parallel([Call(to: "z"), Call(to: "b")])"#),
            "{a}"
        );
        assert_eq!(
            canonical("services.[2].calls.[0].[1].to"),
            "services[2].calls[0][1].to"
        );
        assert_eq!(canonical("services.api.workers"), "services.api.workers");
        let e = patch(&[("services.[7].workers", "1")], &[]).unwrap_err();
        assert_eq!(
            e.message,
            "path `services[7].workers`: `services` has 2 entries, so no `[7]` (the first is `[0]`)"
        );
        let e = patch(&[("services[x.workers", "1")], &[]).unwrap_err();
        assert!(e.message.contains("is not an index"), "{}", e.message);
        let e = patch(&[("services..workers", "1")], &[]).unwrap_err();
        assert!(e.message.contains("empty step"), "{}", e.message);
    }

    #[test]
    fn a_path_to_a_list_element_removes_or_replaces_it() {
        let out = patch(&[], &["services[1]"]).unwrap();
        assert!(!out.contains(r#"name: "db""#), "{out}");
        assert!(parse(&out).is_ok(), "{out}");
        // By name, and the last element (no trailing comma after it): the comma before stays.
        let out = patch(&[], &["services.db", "workload[0]"]).unwrap();
        assert!(
            !out.contains(r#"name: "db""#) && !out.contains("entry"),
            "{out}"
        );
        assert!(parse(&out).is_ok(), "{out}");
        // A call inside a `Parallel` group, by its target.
        let out = patch(&[], &["services.api.calls.a"]).unwrap();
        assert!(out.contains(r#"Parallel([ Call(to: "b")])"#), "{out}");
        let out = patch(
            &[("services[1]", r#"(name: "db", work: Constant("2ms"))"#)],
            &[],
        )
        .unwrap();
        assert!(
            out.contains(r#"(name: "db", work: Constant("2ms")),"#),
            "{out}"
        );
        // Removing a list and one of its elements touches the same text.
        let e = patch(&[], &["services", "services[0]"]).unwrap_err();
        assert!(e.message.contains("same part"), "{}", e.message);
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
