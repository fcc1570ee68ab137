//! The run log, `runs.jsonl`: one JSON line per finished run, appended as runs finish.
//!
//! It is what makes long sweeps safe and spreadable. A crash or Ctrl-C loses no finished run
//! (`--resume` skips the runs already logged); a shard of a sweep writes its slice of runs here,
//! and `merge` folds several logs into exactly the aggregate one machine would have built. Each
//! line carries the whole [`RunResult`] (series included) and its latency histograms, compressed,
//! which rebuild the histograms exactly.
//!
//! The first line is a [`LogHeader`] naming the scenario (with a hash of its text), the seed and
//! the number of runs; logs with different headers cannot be merged or resumed together. Line
//! order is the order runs finished, which varies with `--jobs`; reports never depend on it.
//!
//! Every line ends with its checksum, `,"check":"<16 hex digits>"}`: an FNV-1a hash of the line
//! without it (and with its closing brace). A line altered after it was written, even into valid
//! JSON, is refused by `--resume`, `merge` and `replay`. A log whose header line was never
//! completed (a crash before it was written) holds nothing: `--resume` starts afresh.

use hdrhistogram::Histogram;
use models::results::RunResult;
use models::sparse_hist::SparseHistogram;
use models::RunHistograms;
use serde::{Deserialize, Serialize};

/// Version of the run-log format.
pub const RUNLOG_SCHEMA_VERSION: u32 = 2;

/// The end of every line before its checksum's digits.
const CHECK_KEY: &str = ",\"check\":\"";

/// FNV-1a, 64 bits: stable across platforms and versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A JSON object as one line of the log: its checksum added as the last field, and a newline.
fn seal(json: &str) -> String {
    let body = json.strip_suffix('}').expect("a JSON object");
    let sum = fnv1a(json.as_bytes());
    format!("{body}{CHECK_KEY}{sum:016x}\"}}\n")
}

/// Checks a line's checksum; `n` is its line number, for the message.
fn check_sealed(line: &str, n: usize) -> Result<(), String> {
    let altered = || {
        format!("line {n} of the run log was altered after it was written (its checksum does not match); rerun the sweep without --resume")
    };
    let line = line.strip_suffix('\n').unwrap_or(line);
    let tail = CHECK_KEY.len() + 16 + 2;
    if line.len() < tail || !line.is_char_boundary(line.len() - tail) {
        return Err(altered());
    }
    let (body, check) = line.split_at(line.len() - tail);
    let digits = check
        .strip_prefix(CHECK_KEY)
        .and_then(|c| c.strip_suffix("\"}"))
        .ok_or_else(altered)?;
    let sum = fnv1a(format!("{body}}}").as_bytes());
    if digits != format!("{sum:016x}") {
        return Err(altered());
    }
    Ok(())
}

/// Whether `text` holds a whole header line: a log without one was cut short before its first
/// run, and holds nothing to resume.
pub fn has_header(text: &str) -> bool {
    text.contains('\n')
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHeader {
    pub faultline_runlog: u32,
    pub scenario: String,
    /// Stable hash of what `hashed` names, sixteen hex digits.
    pub source_hash: String,
    /// What `source_hash` is a hash of: `scenario`, the parsed scenario of every design
    /// (comments and layout left out, so that editing a comment keeps a log valid). Empty in
    /// logs written before it was recorded, whose hash is of the file's text.
    #[serde(default)]
    pub hashed: String,
    /// The scenario text itself, so that `merge` needs nothing else.
    pub source: String,
    pub file: String,
    pub seed: u64,
    pub runs: u64,
    pub variants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedRun {
    pub variant: String,
    pub result: RunResult,
    /// Per service, then per workload: the latency histogram in HdrHistogram's compressed V2
    /// format (the one every HdrHistogram library reads), base64-encoded.
    pub service_latency: Vec<String>,
    pub workload_latency: Vec<String>,
}

/// The full histogram, serialized: built one at a time, so that a run's histograms stay sparse.
fn encode(h: &SparseHistogram) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::Serializer;
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(&h.to_hdr(), &mut bytes)
        .expect("writing to a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Result<SparseHistogram, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("bad histogram encoding: {e}"))?;
    let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("bad histogram: {e:?}"))?;
    // Rebuild with the bounds every run uses, so that merging stays exact.
    let mut out = models::results::new_latency_histogram();
    out.add(&h)
        .map_err(|e| format!("histogram out of range: {e:?}"))?;
    Ok(SparseHistogram::from_hdr(&out))
}

impl LoggedRun {
    pub fn new(variant: &str, result: RunResult, histograms: &RunHistograms) -> Self {
        LoggedRun {
            variant: variant.to_string(),
            result,
            service_latency: histograms.services.iter().map(encode).collect(),
            workload_latency: histograms.workloads.iter().map(encode).collect(),
        }
    }

    /// The histograms, rebuilt bucket for bucket.
    pub fn histograms(&self) -> Result<RunHistograms, String> {
        Ok(RunHistograms {
            services: self
                .service_latency
                .iter()
                .map(|t| decode(t))
                .collect::<Result<_, _>>()?,
            workloads: self
                .workload_latency
                .iter()
                .map(|t| decode(t))
                .collect::<Result<_, _>>()?,
        })
    }

    /// One line of JSON, with its newline.
    pub fn to_line(&self) -> String {
        seal(&serde_json::to_string(self).expect("a run serializes"))
    }
}

impl LogHeader {
    pub fn to_line(&self) -> String {
        seal(&serde_json::to_string(self).expect("a header serializes"))
    }
}

/// A parsed log: its header, its runs, and the byte length of the part that parsed (a final line
/// cut short by a crash is left out, and a resumed sweep truncates the file there).
pub struct ParsedLog {
    pub header: LogHeader,
    pub runs: Vec<LoggedRun>,
    pub valid_len: usize,
}

/// Parses a run log. A version other than ours is an error that says which.
pub fn parse(text: &str) -> Result<ParsedLog, String> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().ok_or("the run log is empty")?;
    let version: serde_json::Value = serde_json::from_str(first)
        .map_err(|e| format!("the first line is not a run-log header: {e}"))?;
    match version
        .get("faultline_runlog")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(RUNLOG_SCHEMA_VERSION) => {}
        Some(v) => {
            let age = if v < u64::from(RUNLOG_SCHEMA_VERSION) {
                "older"
            } else {
                "newer"
            };
            return Err(format!(
                "the run log has format version {v}, {age} than this faultline's version {RUNLOG_SCHEMA_VERSION}; rerun the sweep with this version"
            ));
        }
        None => {
            return Err(
                "the first line is not a run-log header (no `faultline_runlog` version)".into(),
            )
        }
    }
    check_sealed(first, 1)?;
    let header: LogHeader =
        serde_json::from_str(first).map_err(|e| format!("bad run-log header: {e}"))?;
    let mut runs = Vec::new();
    let mut valid_len = first.len();
    for (i, line) in lines.enumerate() {
        if !line.ends_with('\n') {
            break; // cut short by a crash: the run will be simulated again
        }
        check_sealed(line, i + 2)?;
        let run: LoggedRun = serde_json::from_str(line)
            .map_err(|e| format!("line {} of the run log: {e}", i + 2))?;
        runs.push(run);
        valid_len += line.len();
    }
    Ok(ParsedLog {
        header,
        runs,
        valid_len,
    })
}
