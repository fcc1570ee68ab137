//! The report's colours: one per variant (the same in the swatches of the tables and in every
//! chart), and the inks of text, axes and grid lines.

use plotters::style::RGBColor;

/// Colours of variants, by index in the sweep (Okabe-Ito, readable by the colour-blind).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0x99, 0x99, 0x99),
];

/// The colour of variant `i`.
pub(super) fn variant_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#rrggbb`, for the HTML around the charts.
pub(super) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Text, secondary text and axes, and grid lines.
pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(super) const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
pub(super) const GRID: RGBColor = RGBColor(0xe2, 0xe2, 0xe2);
