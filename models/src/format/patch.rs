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
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn err<T>(message: String, offset: Option<usize>) -> Result<T, PatchError> {
    Err(PatchError { message, offset })
}

/// Reads RON text, which must be one whole value, into nodes with spans.
pub fn parse(text: &str) -> Result<Node, PatchError> {
    super::reader::parse(text).map_err(|e| PatchError {
        message: e.message,
        offset: Some(e.offset),
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
            // A struct (or `()`): a tuple has items instead.
            // A field is found by our name or another library's (`format::names`).
            Node::Parens { items, .. } if items.is_empty() => match node.field(seg) {
                Some(f) if last => return Ok(Target::Field(f)),
                Some(f) => node = &f.value,
                None if last => return Ok(Target::Missing(node, seg.to_string())),
                None => return Err(not_found(node)),
            },
            Node::List { items, .. } if !last => {
                node = element(items, seg).ok_or_else(|| not_found(node))?
            }
            Node::Parens { items, .. } if !last && items.len() == 1 => {
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
        edits.push(set_edit(text, root, path, value)?);
    }
    for path in unset {
        edits.push(unset_edit(text, root, path)?);
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

/// The edit that removes the field at `path`, with its trailing comma.
fn unset_edit(text: &str, root: &Node, path: &str) -> Result<Edit, PatchError> {
    match resolve(root, path)? {
        Target::Field(f) => {
            let mut end = f.span.end;
            let rest = &text[end..];
            let ws = rest.len() - rest.trim_start().len();
            if rest.trim_start().starts_with(',') {
                end += ws + 1;
            }
            Ok(Edit {
                start: f.span.start,
                end,
                text: String::new(),
            })
        }
        Target::Missing(_, name) => err(
            format!("path `{path}`: there is no `{name}` to unset"),
            None,
        ),
    }
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
