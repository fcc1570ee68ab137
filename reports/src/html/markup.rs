//! HTML text: escaping what users wrote (scenario, variant and service names), verdict text with
//! its `quoted` names shown as code, and the colour swatch that stands for a variant.

use super::palette::{hex, variant_color};
use crate::summary::Summary;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `s` and shows its `quoted` names as code.
pub(super) fn rich(s: &str) -> String {
    let e = escape(s);
    if e.matches('`').count() % 2 == 1 {
        return e;
    }
    let mut out = String::with_capacity(e.len() + 16);
    for (k, part) in e.split('`').enumerate() {
        if k % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

pub(super) fn swatch(i: usize) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        hex(variant_color(i))
    )
}

pub(super) fn variant_index(summary: &Summary, name: &str) -> usize {
    summary
        .variants
        .iter()
        .position(|v| v.name == name)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(
            rich("p99 of `a<b>` ok"),
            "p99 of <code>a&lt;b&gt;</code> ok"
        );
        assert_eq!(rich("odd ` tick"), "odd ` tick");
    }
}
