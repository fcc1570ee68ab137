//! The reports of a sweep, written as a set: `summary.json`, `runs.csv`, `report.md` and
//! `report.html` are written into a fresh temporary folder inside OUT, the old `manifest.json`
//! is removed, the files are renamed into OUT, and `manifest.json` (each file's size and
//! checksum) is written last. A set is whole when its manifest is there and every file matches
//! it (`verify_reports`); a kill between two renames leaves no manifest, so one sweep's
//! `summary.json` beside another's `report.md` is never taken for a set. Temporary files are
//! removed when a write fails, and those a killed writer left are removed by the next one (the
//! caller holds OUT's lock, so nobody else writes there).

use crate::Error;
use std::path::{Path, PathBuf};

/// The reports of a set, in the order they are renamed into place.
pub const REPORT_FILES: [&str; 4] = ["summary.json", "runs.csv", "report.md", "report.html"];
/// Written last: the proof that the set is whole.
pub const MANIFEST: &str = "manifest.json";
/// The temporary folders of sets being written: `.reports-<pid>.tmp`.
const TMP_PREFIX: &str = ".reports-";
const TMP_SUFFIX: &str = ".tmp";

/// FNV-1a, 64 bits: stable across platforms and versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("cannot {what} `{}`: {e}", path.display()))
}

/// A report's content: its text, or what writes it as it is made (a page of tens of
/// megabytes need not be held whole).
pub enum Content<'a> {
    Text(String),
    Stream(WriteWith<'a>),
}

/// Writes a report to the writer it is given.
pub type WriteWith<'a> = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + 'a>;

/// A writer that counts and checksums what passes through it.
struct Hashing<W> {
    inner: W,
    bytes: u64,
    hash: u64,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash = buf[..n].iter().fold(self.hash, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The manifest of the files written (name, size, checksum): one line per file, in order; no
/// time or process id, so the same sweep writes the same bytes.
fn manifest(files: &[(&str, u64, u64)]) -> String {
    let entries: Vec<String> = (files.iter())
        .map(|(name, bytes, hash)| {
            format!("    {{\"file\": \"{name}\", \"bytes\": {bytes}, \"fnv1a\": \"{hash:016x}\"}}")
        })
        .collect();
    format!(
        "{{\n  \"version\": 1,\n  \"files\": [\n{}\n  ]\n}}\n",
        entries.join(",\n")
    )
}

/// Removes what a writer killed in `dir` left: temporary folders of sets and `*.tmp` files of
/// the reports and the manifest.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = REPORT_FILES
            .iter()
            .chain([&MANIFEST])
            .any(|f| name == format!("{f}.tmp"));
        if name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `files` into `dir` as a set (see the module's doc). `after_rename` is called after
/// each file is renamed into place, with its name: tests make it fail, as a kill would stop
/// the writer there.
pub fn write_set(
    dir: &Path,
    files: &[(&str, String)],
    after_rename: &mut dyn FnMut(&str) -> Result<(), Error>,
) -> Result<(), Error> {
    let contents = (files.iter())
        .map(|(name, text)| (*name, Content::Text(text.clone())))
        .collect();
    write_set_of(dir, contents, after_rename)
}

/// [`write_set`] of contents that may be written as they are made.
pub fn write_set_of(
    dir: &Path,
    files: Vec<(&str, Content<'_>)>,
    after_rename: &mut dyn FnMut(&str) -> Result<(), Error>,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    remove_leftovers(dir);
    let tmp = dir.join(format!("{TMP_PREFIX}{}{TMP_SUFFIX}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(|e| io("create", &tmp, e))?;
    let written = write_into(dir, &tmp, files, after_rename);
    let _ = std::fs::remove_dir_all(&tmp);
    written
}

/// Writes the files into `tmp`, then renames them into `dir` with no manifest there, then
/// writes the manifest.
fn write_into(
    dir: &Path,
    tmp: &Path,
    files: Vec<(&str, Content<'_>)>,
    after_rename: &mut dyn FnMut(&str) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut written = Vec::new();
    for (name, content) in files {
        let path = tmp.join(name);
        let (bytes, hash) =
            write_one(&path, content).map_err(|e| io("write", &dir.join(name), e))?;
        written.push((name, bytes, hash));
    }
    let manifest_path = dir.join(MANIFEST);
    match std::fs::remove_file(&manifest_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("remove", &manifest_path, e))
        }
        _ => {}
    }
    for (name, ..) in &written {
        let to = dir.join(name);
        std::fs::rename(tmp.join(name), &to).map_err(|e| io("write", &to, e))?;
        after_rename(name)?;
    }
    crate::write_atomic(&manifest_path, &manifest(&written))
}

/// Writes one report to `path`: its size and checksum.
fn write_one(path: &Path, content: Content<'_>) -> std::io::Result<(u64, u64)> {
    use std::io::Write;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = Hashing {
        inner: file,
        bytes: 0,
        hash: 0xcbf2_9ce4_8422_2325,
    };
    match content {
        Content::Text(text) => w.write_all(text.as_bytes())?,
        Content::Stream(write) => write(&mut w)?,
    }
    w.flush()?;
    Ok((w.bytes, w.hash))
}

/// Checks that the reports in `dir` are one whole set: its manifest is there and every file it
/// names has the size and checksum it says. The error says what is missing or does not match.
pub fn verify_reports(dir: &Path) -> Result<(), Error> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Io(format!(
            "`{}`: {e}; the reports beside it are not known to be one set (their writer was stopped before it finished)",
            path.display()
        ))
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Io(format!("`{}` is not a manifest: {e}", path.display())))?;
    let entries = json["files"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        return Err(Error::Io(format!("`{}` names no file", path.display())));
    }
    for entry in entries {
        let name = entry["file"].as_str().unwrap_or_default();
        if !REPORT_FILES.contains(&name) {
            return Err(Error::Io(format!(
                "`{}` names `{name}`, which is not a report",
                path.display()
            )));
        }
        let file: PathBuf = dir.join(name);
        let bytes = std::fs::read(&file).map_err(|e| io("read", &file, e))?;
        let sum = format!("{:016x}", fnv1a(&bytes));
        let size_ok = entry["bytes"].as_u64() == Some(bytes.len() as u64);
        if !size_ok || entry["fnv1a"].as_str() != Some(sum.as_str()) {
            return Err(Error::Io(format!(
                "`{}` is not the file `{}` lists: another sweep's, or altered",
                file.display(),
                path.display()
            )));
        }
    }
    Ok(())
}
