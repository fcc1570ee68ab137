//! The failure-mode table: one row per injected fault (and rollout) and variant, across runs —
//! what detected it first and how soon, whether users saw errors, what it cost them, and how long
//! until they were back within the SLO.

use super::markup::escape;
use crate::summary::Summary;
use std::fmt::Write;

/// One row per injected fault and variant: detection, user impact, recovery, across runs.
pub(super) fn failure_modes(out: &mut String, s: &Summary) {
    if s.variants.iter().all(|v| v.failure_modes.is_empty()) {
        return;
    }
    out.push_str("<section>\n<h2>Failure modes</h2>\n");
    out.push_str(
        "<p class=\"note\">One row per injected fault (and rollout), across runs: what detected it first \
         and how soon, whether users saw errors (a bucket below the scenario's <code>slo</code>, 99% good answers by default), what it cost \
         them, and how long until they were back within that SLO.</p>\n<table>\n<tr><th>variant</th>",
    );
    for c in crate::summary::FAILURE_MODE_COLUMNS {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for v in &s.variants {
        for f in &v.failure_modes {
            let _ = write!(out, "<tr><td><code>{}</code></td>", escape(&v.name));
            for c in f.cells() {
                let _ = write!(out, "<td>{}</td>", escape(&c));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n</section>\n");
}
