//! ARCHITECTURE.md kept true: its lists of events, random streams, simulation parts and test
//! modules are checked against the code, so a new event, stream, part or test module fails here
//! until the map names it (and a name the code no longer has fails too).

use crate::repo_path;

fn architecture() -> String {
    std::fs::read_to_string(repo_path("ARCHITECTURE.md")).unwrap()
}

/// The `Name`s between backticks in the paragraph of ARCHITECTURE.md that starts with `lead`.
fn listed_after(text: &str, lead: &str) -> Vec<String> {
    let start = text
        .find(lead)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no `{lead}`"));
    let para = &text[start..];
    let para = &para[..para.find("\n\n").unwrap_or(para.len())];
    para.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_event_is_listed_and_every_listed_event_exists() {
    let text = architecture();
    let listed = listed_after(&text, "the events are a closed set");
    let names: Vec<&str> = models::sim::Event::one_of_each()
        .iter()
        .map(models::sim::Event::name)
        .collect();
    for n in &names {
        assert!(
            listed.iter().any(|l| l == n),
            "ARCHITECTURE.md does not list the event `{n}`"
        );
    }
    let listed_events: Vec<&String> = listed
        .iter()
        .filter(|l| l.chars().next().is_some_and(char::is_uppercase) && !l.contains(':'))
        .filter(|l| l.chars().all(char::is_alphanumeric))
        .collect();
    for l in listed_events {
        assert!(
            names.contains(&l.as_str()),
            "ARCHITECTURE.md lists an event `{l}` the code does not have"
        );
    }
}

/// Every `(component, "purpose")` a stream is made with in `models/src`: the purposes, which
/// ARCHITECTURE.md lists as `/purpose`.
fn stream_purposes() -> Vec<String> {
    let mut out = Vec::new();
    for path in walk_rs(&repo_path("models/src")) {
        let text = std::fs::read_to_string(&path).unwrap();
        // Test modules make streams of their own (`stream("t", "backoff")`).
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (k, _) in text.match_indices(".stream(") {
            let call = &text[k..text[k..].find(')').map_or(text.len(), |e| k + e)];
            if let Some(q) = call.rfind(", \"") {
                let purpose = call[q + 3..].trim_end_matches('"');
                if !purpose.is_empty() && !out.iter().any(|p| p == purpose) {
                    out.push(purpose.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

fn walk_rs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_rs(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_stream_purpose_is_listed() {
    let text = architecture();
    let listed = listed_after(&text, "every random draw comes from a stream");
    let purposes = stream_purposes();
    assert!(purposes.len() >= 15, "found only {purposes:?}");
    for p in &purposes {
        assert!(
            listed.iter().any(|l| l.ends_with(&format!("/{p}"))),
            "ARCHITECTURE.md does not list the stream purpose `/{p}` (listed: {listed:?})"
        );
    }
}

#[test]
fn every_part_of_the_simulation_is_on_the_map() {
    let text = architecture();
    for path in walk_rs(&repo_path("models/src/sim")) {
        let rel = path
            .strip_prefix(repo_path("models/src/sim"))
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let name = match rel.as_str() {
            "mod.rs" => continue,
            "calls/mod.rs" => "calls/".to_string(),
            other => other.to_string(),
        };
        assert!(
            text.contains(&format!("`{name}`")),
            "ARCHITECTURE.md does not name the part `{name}` (models/src/sim/{rel})"
        );
    }
    for path in walk_rs(&repo_path("models/src/defences")) {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        if stem != "mod" {
            assert!(
                text.contains(&format!("`{stem}`")),
                "ARCHITECTURE.md does not name the defence `{stem}`"
            );
        }
    }
}

#[test]
fn every_test_module_is_on_the_map() {
    let text = architecture();
    let main = std::fs::read_to_string(repo_path("tests/integration/main.rs")).unwrap();
    for line in main.lines() {
        if let Some(m) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
            assert!(
                text.contains(&format!("`{m}`")),
                "ARCHITECTURE.md does not name the test module `{m}`"
            );
        }
    }
}
