//! The scenario reference, `docs/scenario-reference.md`, is generated from the doc comments of
//! the format's types in `models/src/format/spec/`; this test fails when the committed file is
//! out of date (refresh it with `UPDATE_EXPECT=1 cargo test --release --test integration
//! reference`).

use crate::repo_path;
use models::format::names::ALIASES;

/// One documented item: a struct or enum, with its members.
struct Item {
    kind: &'static str,
    name: String,
    doc: Vec<String>,
    members: Vec<Member>,
}

struct Member {
    name: String,
    ty: String,
    doc: Vec<String>,
    optional: bool,
    /// Other libraries' names it accepts (`#[serde(alias = "...")]`).
    aliases: Vec<String>,
}

/// Reads the types of spec.rs: `pub struct`/`pub enum` items, their fields and variants, with
/// the `///` comments above each and whether serde gives a default.
fn read_spec(source: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    let mut optional = false;
    let mut rename: Option<String> = None;
    let mut aliases: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut in_item = false;
    // Inside an attribute that rustfmt spread over lines (a long `#[derive(...)]`).
    let mut in_attribute = false;
    for raw in source.lines() {
        let line = raw.trim();
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        if in_attribute || (line.starts_with("#[") && !line.ends_with(']')) {
            in_attribute = !line.ends_with(")]");
            continue;
        }
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("#[serde(alias = \"") {
            aliases.push(rest.split('"').next().unwrap_or_default().to_string());
            continue;
        }
        if line.starts_with("#[serde(") {
            optional |= line.contains("default");
            // The name in the file, where it is not the Rust one (`for_` is `for`).
            if let Some((_, rest)) = line.split_once("rename = \"") {
                rename = rest.split('"').next().map(str::to_string);
            }
            continue;
        }
        if line.starts_with("#[") || line.starts_with("//") {
            continue;
        }
        if !in_item {
            for (prefix, kind) in [("pub struct ", "struct"), ("pub enum ", "enum")] {
                if let Some(rest) = line.strip_prefix(prefix) {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if line.ends_with('{') {
                        items.push(Item {
                            kind,
                            name,
                            doc: std::mem::take(&mut doc),
                            members: Vec::new(),
                        });
                        in_item = true;
                        depth = 1;
                    }
                }
            }
            doc.clear();
            optional = false;
            rename = None;
            continue;
        }
        // Inside an item: members at depth 1, fields of struct variants at depth 2.
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if depth <= 2 && !line.is_empty() && line != "}" && line != "}," {
            let item = items.last_mut().expect("in an item");
            let member = if let Some(rest) = line.strip_prefix("pub ") {
                rest.split_once(':').map(|(n, t)| {
                    (
                        n.trim().to_string(),
                        t.trim().trim_end_matches(',').to_string(),
                    )
                })
            } else if depth == 2 {
                line.split_once(':').map(|(n, t)| {
                    (
                        format!("  .{}", n.trim()),
                        t.trim().trim_end_matches(',').to_string(),
                    )
                })
            } else {
                let name: String = line
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let ty = line[name.len()..]
                    .trim()
                    .trim_end_matches(',')
                    .trim_end_matches('{')
                    .trim()
                    .to_string();
                (!name.is_empty()).then_some((name, ty))
            };
            if let Some((name, ty)) = member {
                // A renamed field of a struct variant keeps its `.` (`.in` for `place`).
                let name = match rename.take() {
                    Some(r) if name.starts_with("  .") => format!("  .{r}"),
                    Some(r) => r,
                    None => name,
                };
                item.members.push(Member {
                    name,
                    ty,
                    doc: std::mem::take(&mut doc),
                    optional,
                    aliases: std::mem::take(&mut aliases),
                });
            }
        }
        doc.clear();
        optional = false;
        rename = None;
        assert!(
            aliases.is_empty(),
            "an alias before `{line}`, which is no field"
        );
        depth = depth + opens - closes.min(depth + opens);
        if depth == 0 {
            in_item = false;
        }
    }
    items
}

fn render(items: &[Item]) -> String {
    let mut out = String::from(
        "# Scenario reference\n\nGenerated from the doc comments of `models/src/format/spec/` by \
         `tests/integration/reference.rs`; do not edit by hand. Durations are strings with a unit \
         (`\"250ms\"`, `\"1.5s\"`, `\"2m30s\"`); rates are per second. A field marked *optional* may be \
         left out: its default is given in its description.\n",
    );
    for item in items.iter().filter(|i| i.name != "Dur") {
        out.push_str(&format!("\n## `{}` ({})\n\n", item.name, item.kind));
        if !item.doc.is_empty() {
            out.push_str(&item.doc.join(" "));
            out.push_str("\n\n");
        }
        if item.members.is_empty() {
            continue;
        }
        let head = if item.kind == "struct" {
            "field"
        } else {
            "variant / field"
        };
        out.push_str(&format!(
            "| {head} | type | | description |\n|---|---|---|---|\n"
        ));
        for m in &item.members {
            let ty = if m.ty.is_empty() {
                String::new()
            } else {
                format!(
                    "`{}`",
                    m.ty.trim_start_matches('(')
                        .trim_end_matches(')')
                        .replace('|', "\\\\|")
                )
            };
            let opt = if m.optional { "optional" } else { "" };
            let mut doc = m.doc.join(" ").replace('|', "\\\\|");
            for alias in &m.aliases {
                let (_, _, library) = (ALIASES.iter())
                    .find(|(a, _, _)| a == alias)
                    .expect("every alias is in format::names::ALIASES");
                doc.push_str(&format!(" Also `{alias}` ({library})."));
            }
            out.push_str(&format!("| `{}` | {ty} | {opt} | {doc} |\n", m.name.trim()));
        }
    }
    out
}

/// The files of `models/src/format/spec/` after `mod.rs`, in the reference's order (the order
/// the types had when the format was one file).
const SPEC_FILES: [&str; 10] = [
    "ops",
    "actions",
    "faults",
    "expect",
    "limits",
    "topology",
    "network",
    "services",
    "calls",
    "workloads",
];

/// The format's source: `spec/mod.rs`, then its modules in `SPEC_FILES` order (every module
/// `mod.rs` declares must be listed).
fn spec_source() -> String {
    let dir = repo_path("models/src/format/spec");
    let main = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    for m in main
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
    {
        assert!(
            SPEC_FILES.contains(&m),
            "add `{m}` to SPEC_FILES in reference.rs"
        );
    }
    let mut source = main;
    for m in SPEC_FILES {
        source.push('\n');
        source.push_str(&std::fs::read_to_string(dir.join(format!("{m}.rs"))).unwrap());
    }
    source
}

#[test]
fn scenario_reference_is_up_to_date() {
    let source = spec_source();
    let items = read_spec(&source);
    // Every type of the format is documented, and so is every field of every struct.
    for name in [
        "Scenario",
        "Service",
        "Step",
        "RetrySpec",
        "BreakerSpec",
        "Workload",
        "Expect",
        "FaultKind",
        "Topology",
    ] {
        assert!(
            items.iter().any(|i| i.name == name),
            "`{name}` missing from the reference"
        );
    }
    for item in items
        .iter()
        .filter(|i| i.kind == "struct" && i.name != "Dur")
    {
        assert!(!item.doc.is_empty(), "`{}` has no doc comment", item.name);
    }
    // The aliases the reader knows are the ones serde accepts.
    let mut written: Vec<(String, String)> = (items.iter().flat_map(|i| &i.members))
        .flat_map(|m| {
            let field = m.name.trim().trim_start_matches('.').to_string();
            m.aliases.iter().map(move |a| (a.clone(), field.clone()))
        })
        .collect();
    let mut listed: Vec<(String, String)> = (ALIASES.iter())
        .map(|(a, f, _)| (a.to_string(), f.to_string()))
        .collect();
    written.sort();
    listed.sort();
    assert_eq!(
        written, listed,
        "format::names::ALIASES and the spec's aliases differ"
    );
    let text = render(&items);
    let path = repo_path("docs/scenario-reference.md");
    if std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/scenario-reference.md is out of date; refresh it with: UPDATE_EXPECT=1 cargo test --release --test integration reference"
    );
}
