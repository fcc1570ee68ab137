//! Scenarios as JSON (`models::format::json`): the schema in `docs/scenario.schema.json` is the
//! one the spec types generate, every catalog scenario converted to JSON is the same scenario
//! (same parsed designs, same digests) and is valid under the schema, and broken JSON gives
//! located errors (the error corpus in `tests/bad/` holds `json-*.json` cases).

use crate::determinism::walk;
use crate::{repo_path, root};
use models::format::json;
use serde_json::Value;
use std::process::{Command, Stdio};

const SCHEMA_FILE: &str = "docs/scenario.schema.json";

/// Every scenario of the catalog and of `tests/data`.
fn scenarios() -> Vec<std::path::PathBuf> {
    let mut files = walk(&repo_path("scenarios"));
    files.extend(walk(&repo_path("tests/data")));
    files.sort();
    assert!(files.len() > 60, "{} scenarios", files.len());
    files
}

/// A scenario's RON text and the same scenario as JSON.
fn both(path: &std::path::Path) -> (String, String) {
    let ron = std::fs::read_to_string(path).unwrap();
    let json = json::from_ron(&ron).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (ron, json)
}

#[test]
fn the_schema_file_is_the_one_the_spec_generates() {
    let path = repo_path(SCHEMA_FILE);
    let generated = json::schema_text();
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA_FILE} is out of date: UPDATE_EXPECT=1 cargo test --release --test integration -- json"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), generated);
}

#[test]
fn every_catalog_scenario_as_json_is_the_same_scenario() {
    for path in scenarios() {
        let (ron, json) = both(&path);
        let name = path.display().to_string();
        let from_ron = models::variants::load_study(&name, &ron).unwrap();
        let converted = json::to_ron(&name, &json).unwrap_or_else(|e| panic!("{e}"));
        let from_json = models::variants::load_study(&name, &converted)
            .unwrap_or_else(|e| panic!("{e}\n{json}"));
        // The hash the run log keeps: of the base and of every design's parsed scenario.
        assert_eq!(
            from_ron.scenario_hash(),
            from_json.scenario_hash(),
            "{name}"
        );
        let names = |s: &models::compile::study::Study| -> Vec<String> {
            s.designs.iter().map(|d| d.name.clone()).collect()
        };
        assert_eq!(names(&from_ron), names(&from_json), "{name}");
        // The conversion keeps every line's length in characters.
        let lines = |t: &str| -> Vec<usize> { t.lines().map(|l| l.chars().count()).collect() };
        assert_eq!(lines(&json), lines(&converted), "{name}");
    }
}

#[test]
fn a_json_scenario_runs_to_the_same_digests() {
    let dir = std::env::temp_dir().join(format!("faultline-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for rel in [
        "scenarios/quickstart.ron",
        "scenarios/failures/zone-outage.ron",
    ] {
        let (_, json) = both(&repo_path(rel));
        let json_path = dir.join("scenario.json");
        std::fs::write(&json_path, &json).unwrap();
        let a = faultline::load_study(&repo_path(rel)).unwrap();
        let b = faultline::load_study(&json_path).unwrap();
        assert_eq!(a.study.designs.len(), b.study.designs.len());
        for (x, y) in a.study.designs.iter().zip(&b.study.designs) {
            let seed = a.study.spec.seed;
            let rx = models::run_world(&x.world, seed, 0).unwrap();
            let ry = models::run_world(&y.world, seed, 0).unwrap();
            assert_eq!(rx.digest, ry.digest, "{rel} {}", x.name);
        }
    }
    // Standard input is JSON when it starts with `{`.
    let (_, json) = both(&repo_path("scenarios/quickstart.ron"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "-", "--variant", "db-8-workers", "--format", "json"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let world = &faultline::load_study(&repo_path("scenarios/quickstart.ron"))
        .unwrap()
        .study
        .designs[1]
        .world;
    let expected = models::run_world(world, world.seed, 0).unwrap();
    assert_eq!(doc["digest"], expected.digest.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_catalog_scenario_as_json_is_valid_under_the_schema() {
    let schema = json::schema();
    let mut checked = 0;
    for path in scenarios() {
        let (_, text) = both(&path);
        let value: Value = serde_json::from_str(&text).unwrap();
        let mut errors = Vec::new();
        validate(schema, schema, &value, "", &mut errors);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked > 60);
    // And the validator refuses what the loader refuses.
    let (_, text) = both(&repo_path("scenarios/quickstart.ron"));
    for (from, to) in [
        ("\"workers\": 4", "\"wrokers\": 4"),
        ("\"LeastOutstanding\"", "\"LeastOutstandin\""),
        ("\"horizon\": \"2m\"", "\"horizon\": 2"),
        ("\"instances\": 4", "\"instances\": -4"),
    ] {
        assert!(text.contains(from), "{from}");
        let value: Value = serde_json::from_str(&text.replacen(from, to, 1)).unwrap();
        let mut errors = Vec::new();
        validate(schema, schema, &value, "", &mut errors);
        assert!(!errors.is_empty(), "{to} is refused");
    }
}

/// A JSON Schema validator for the keywords schemars writes (`$ref`, `type`, `properties`,
/// `required`, `additionalProperties`, `items`, `prefixItems`, `minItems`, `maxItems`, `anyOf`,
/// `oneOf`, `enum`, `const`, `minimum`, `maximum`); `pattern` and `format` are left out (the
/// loader checks durations and sizes itself).
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let fail = |errors: &mut Vec<String>, what: String| errors.push(format!("{at}: {what}"));
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
        None => schema,
    };
    if schema == &Value::Bool(true) {
        return;
    }
    for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let ok = branches
                .iter()
                .filter(|b| {
                    let mut e = Vec::new();
                    validate(root, b, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if ok == 0 || (exactly_one && ok > 1) {
                fail(errors, format!("{ok} branches of {key} match {v}"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            t => vec![t.as_str().unwrap()],
        };
        let is = |t: &str| match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return fail(errors, format!("{v} is not of type {t}"));
        }
    }
    if let Some(listed) = schema.get("enum").and_then(Value::as_array) {
        if !listed.contains(v) {
            fail(errors, format!("{v} is not one of {listed:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            fail(errors, format!("{v} is not {c}"));
        }
    }
    if let Some(n) = v.as_f64() {
        let below = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m);
        let above = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m);
        if below || above {
            fail(errors, format!("{v} is out of range"));
        }
    }
    validate_containers(root, schema, v, at, errors);
}

/// The keywords of objects and arrays.
fn validate_containers(
    root: &Value,
    schema: &Value,
    v: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    if let Some(o) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: `{r}` is required"));
            }
        }
        for (k, x) in o {
            let path = format!("{at}.{k}");
            match (
                props.and_then(|p| p.get(k)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => validate(root, s, x, &path, errors),
                (None, Some(Value::Bool(false))) => errors.push(format!("{path}: not allowed")),
                (None, Some(s)) => validate(root, s, x, &path, errors),
                (None, None) => {}
            }
        }
    }
    if let Some(a) = v.as_array() {
        let (min, max) = (schema.get("minItems"), schema.get("maxItems"));
        let len = a.len() as u64;
        if min.and_then(Value::as_u64).is_some_and(|m| len < m)
            || max.and_then(Value::as_u64).is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: {len} items"));
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (k, x) in a.iter().enumerate() {
            let path = format!("{at}[{k}]");
            match (prefix.and_then(|p| p.get(k)), schema.get("items")) {
                (Some(s), _) | (None, Some(s)) => validate(root, s, x, &path, errors),
                (None, None) => {}
            }
        }
    }
}

/// No prefix of a JSON scenario panics the loader.
#[test]
fn truncated_json_never_panics() {
    let (_, text) = both(&repo_path("scenarios/quickstart.ron"));
    let mut cuts = 0;
    for end in (0..text.len()).step_by(23) {
        if let Err(e) = json::to_ron("quickstart.json", &text[..end]) {
            assert!(e.problems.iter().all(|p| p.position.is_some()), "{e}");
        }
        cuts += 1;
    }
    assert!(cuts > 100);
}

/// No edit of a JSON scenario panics the converter or the loader behind it: 3,000 inputs, each
/// the quickstart as JSON with a few characters replaced, inserted or removed (a fixed LCG).
#[test]
fn mutated_json_never_panics() {
    let (_, text) = both(&repo_path("scenarios/quickstart.ron"));
    let chars: Vec<char> = text.chars().collect();
    let pool: Vec<char> = "{}[]\":,0123456789.-eE tfnul\\\"/\nSpreadCall"
        .chars()
        .collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize % n
    };
    let mut converted = 0;
    for _ in 0..3_000 {
        let mut input = chars.clone();
        for _ in 0..1 + next(3) {
            let at = next(input.len());
            match next(3) {
                0 => input[at] = pool[next(pool.len())],
                1 => input.insert(at, pool[next(pool.len())]),
                _ => {
                    input.remove(at);
                }
            }
        }
        let input: String = input.into_iter().collect();
        if let Ok(ron) = json::to_ron("m.json", &input) {
            converted += 1;
            let _ = models::variants::load_study("m.json", &ron);
        }
    }
    assert!(converted > 300, "{converted} of 3,000 read as JSON");
}
