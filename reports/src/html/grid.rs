//! Parameter grids: when every variant is a point of one grid of one or two parameters, a heatmap
//! of the first service per group of variants (two parameters), or a line chart with intervals
//! against the one parameter, a line per group.

use super::heatmap::{heatmap, Heatmap, Scale};
use super::markup::escape;
use super::palette::variant_color;
use super::svg::{
    all_services, category_plot, chart, decimals_for, extent, metric_range, shorten, variant_line,
    x_tick, Area, DrawResult, Key, Plot,
};
use super::tables::metric;
use crate::format::trim_pct;
use crate::summary::{MetricSummary, Summary};
use crate::sweep::{Aggregate, MetricKind, VariantAggregate};
use plotters::prelude::*;
use std::fmt::Write;

/// Variants of a parameter grid that differ only in the grid point (indices into the sweep).
struct GridGroup {
    name: String,
    members: Vec<usize>,
}

impl GridGroup {
    /// The group's name on a chart: `grid` for a grid over the base scenario alone.
    fn label(&self) -> String {
        if self.name.is_empty() {
            "grid".to_string()
        } else {
            self.name.clone()
        }
    }
}

/// A grid variant's name without its grid point: `breaker` for `breaker a.b=1 c.d=2`, empty for
/// a grid over the base scenario alone.
fn grid_group_name(v: &VariantAggregate) -> String {
    let point: Vec<String> = v.grid.iter().map(|(l, x)| format!("{l}={x}")).collect();
    if let Some(prefix) = v.name.strip_suffix(&point.join(" ")) {
        return prefix.trim_end().to_string();
    }
    if let Some((label, _)) = v.grid.first() {
        if let Some(k) = v.name.find(&format!("{label}=")) {
            return v.name[..k].trim_end().to_string();
        }
    }
    v.name.clone()
}

/// The grid's parameters and its groups of variants, when every variant is a point of the same
/// grid of one or two parameters.
fn grid_groups(agg: &Aggregate) -> Option<(Vec<String>, Vec<GridGroup>)> {
    let params: Vec<String> = agg
        .variants
        .first()?
        .grid
        .iter()
        .map(|p| p.0.clone())
        .collect();
    if !(1..=2).contains(&params.len()) {
        return None;
    }
    let same = |v: &VariantAggregate| {
        v.grid.len() == params.len() && v.grid.iter().zip(&params).all(|(g, p)| g.0 == *p)
    };
    if !agg.variants.iter().all(same) {
        return None;
    }
    let mut groups: Vec<GridGroup> = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        let name = grid_group_name(v);
        match groups.iter_mut().find(|g| g.name == name) {
            Some(g) => g.members.push(i),
            None => groups.push(GridGroup {
                name,
                members: vec![i],
            }),
        }
    }
    Some((params, groups))
}

/// Distinct values of grid parameter `p` among `members`, in order of appearance.
fn grid_values(agg: &Aggregate, members: &[usize], p: usize) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for &i in members {
        let x = &agg.variants[i].grid[p].1;
        if !values.contains(x) {
            values.push(x.clone());
        }
    }
    values
}

/// The summary of `kind` for `service` in variant `i`, when some run defines it.
pub(super) fn variant_metric<'a>(
    summary: &'a Summary,
    agg: &Aggregate,
    i: usize,
    service: &str,
    kind: MetricKind,
) -> Option<&'a MetricSummary> {
    let name = &agg.variants[i].name;
    summary
        .variants
        .iter()
        .find(|v| v.name == *name)?
        .services
        .iter()
        .find(|s| s.name == service)
        .and_then(|s| metric(s, kind))
        .filter(|m| m.n > 0 && m.mean.is_finite())
}

/// The heatmap of `kind` of `service` over the grid points of `group`, on one colour scale for
/// the whole sweep.
fn group_heatmap(
    summary: &Summary,
    agg: &Aggregate,
    group: &GridGroup,
    params: &[String],
    service: &str,
    kind: MetricKind,
) -> String {
    let xs = grid_values(agg, &group.members, 0);
    let ys = grid_values(agg, &group.members, 1);
    let cells: Vec<(usize, usize, f64)> = group
        .members
        .iter()
        .map(|&i| {
            let g = &agg.variants[i].grid;
            let x = xs.iter().position(|v| *v == g[0].1).unwrap_or(0);
            let y = ys.iter().position(|v| *v == g[1].1).unwrap_or(0);
            let v = variant_metric(summary, agg, i, service, kind).map_or(f64::NAN, |m| m.mean);
            (x, y, v)
        })
        .collect();
    // One scale for every group, so that a colour means the same value in each heatmap.
    let values: Vec<f64> = (0..agg.variants.len())
        .map(|i| variant_metric(summary, agg, i, service, kind).map_or(f64::NAN, |m| m.mean))
        .collect();
    let scale = Scale::new(&values, kind);
    let what = format!("mean {}", kind.name());
    let title = if group.name.is_empty() {
        format!("{service} · {what}")
    } else {
        format!("{} · {service} · {what}", group.name)
    };
    heatmap(&Heatmap {
        title,
        params,
        xs,
        ys,
        cells,
        scale,
        kind,
    })
}

/// Heatmaps (two parameters) or line charts (one) of the first service over the grid.
pub(super) fn grid_section(out: &mut String, summary: &Summary, agg: &Aggregate) {
    let Some((params, groups)) = grid_groups(agg) else {
        return;
    };
    let services = all_services(agg);
    let Some(service) = services.first() else {
        return;
    };
    out.push_str("<section>\n<h2>Parameter grid</h2>\n");
    if params.len() == 2 {
        let _ = writeln!(
            out,
            "<p class=\"note\">One cell per grid point: the mean across runs of <code>{}</code>, the first service, \
             with <code>{}</code> across and <code>{}</code> up. Colours run from dark (worse) to bright (better) \
             on one scale for every heatmap of a metric; the latency scale is logarithmic. A grey cell has no value.</p>",
            escape(service),
            escape(&params[0]),
            escape(&params[1])
        );
        for g in &groups {
            if groups.len() > 1 || !g.name.is_empty() {
                let _ = writeln!(out, "<h3>{}</h3>", escape(&g.name));
            }
            out.push_str("<div class=\"charts two\">\n");
            for kind in [MetricKind::WithinSlo, MetricKind::AllLatencyP99] {
                out.push_str(&group_heatmap(summary, agg, g, &params, service, kind));
            }
            out.push_str("</div>\n");
        }
    } else {
        let _ = writeln!(
            out,
            "<p class=\"note\">The mean across runs of <code>{}</code>, the first service, at each value of \
             <code>{}</code>, with its {}% interval.</p>",
            escape(service),
            escape(&params[0]),
            trim_pct(summary.confidence)
        );
        out.push_str("<div class=\"charts two\">\n");
        for kind in [MetricKind::WithinSlo, MetricKind::AllLatencyP99] {
            out.push_str(&grid_line_chart(
                summary, agg, &groups, &params[0], service, kind,
            ));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

/// A grid point on a line chart: x (the index of its value), then the mean and the low and high
/// ends of its interval, in the axis' unit.
type Point = (f64, f64, f64, f64);

/// `kind` of `service` against the one grid parameter (values in order), one line per group,
/// with each point's confidence interval.
fn grid_line_chart(
    summary: &Summary,
    agg: &Aggregate,
    groups: &[GridGroup],
    param: &str,
    service: &str,
    kind: MetricKind,
) -> String {
    let all: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .collect();
    let xs = grid_values(agg, &all, 0);
    let (scale, axis) = if kind.is_latency() {
        (1e-6, format!("mean {} (ms)", kind.name()))
    } else {
        (100.0, format!("mean {} (%)", kind.name()))
    };
    let lines: Vec<(usize, Vec<Point>)> = groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            (
                k,
                group_points(summary, agg, g, &xs, (service, kind), scale),
            )
        })
        .collect();
    let title = format!("{service} · mean {} by {param}", kind.name());
    let names: Vec<String> = groups.iter().map(GridGroup::label).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let legend: Vec<usize> = if groups.len() > 1 {
        (0..groups.len()).collect()
    } else {
        Vec::new()
    };
    let (lo, hi) = extent(
        lines
            .iter()
            .flat_map(|(_, p)| p.iter().flat_map(|q| [q.2, q.3])),
    );
    let (y0, y1) = metric_range(lo, hi, kind);
    let decimals = decimals_for(y1 - y0);
    let n = xs.len().max(1);
    chart(
        640,
        360,
        &title,
        Key::Line,
        &legend,
        &names,
        |root, body| {
            let mut c = category_plot(body, n, (y0, y1), (param, &axis), decimals)?;
            draw_value_ticks(root, &c, &xs, y0)?;
            draw_group_lines(&mut c, &lines)
        },
    )
}

/// The points of `group` in order of x: the mean of `kind` of `service` at each grid value of
/// `xs` that has one, with its interval (the mean alone from one run), times `scale`.
fn group_points(
    summary: &Summary,
    agg: &Aggregate,
    group: &GridGroup,
    xs: &[String],
    (service, kind): (&str, MetricKind),
    scale: f64,
) -> Vec<Point> {
    let mut points = Vec::new();
    for &i in &group.members {
        let x = xs
            .iter()
            .position(|v| *v == agg.variants[i].grid[0].1)
            .unwrap_or(0) as f64;
        if let Some(m) = variant_metric(summary, agg, i, service, kind) {
            let (lo, hi) = if m.n >= 2 {
                (m.ci_low, m.ci_high)
            } else {
                (m.mean, m.mean)
            };
            points.push((x, m.mean * scale, lo * scale, hi * scale));
        }
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The grid values below the x axis, one per slot, cut to the slot's width.
fn draw_value_ticks(root: &Area<'_>, c: &Plot<'_, '_>, xs: &[String], y0: f64) -> DrawResult {
    let n = xs.len().max(1);
    let (left, _) = c.backend_coord(&(-0.5, y0));
    let (right, _) = c.backend_coord(&(n as f64 - 0.5, y0));
    let max_chars = ((f64::from(right - left) / n as f64 - 6.0) / (11.0 * 0.55)).max(3.0) as usize;
    for (k, v) in xs.iter().enumerate() {
        x_tick(
            root,
            c.backend_coord(&(k as f64, y0)),
            shorten(v, max_chars),
        )?;
    }
    Ok(())
}

/// A line per group in its variant colour and dash, with a dot at each point and its interval as
/// a vertical bar.
fn draw_group_lines(c: &mut Plot<'_, '_>, lines: &[(usize, Vec<Point>)]) -> DrawResult {
    for (k, points) in lines {
        let color = variant_color(*k);
        // Groups side by side, so that their intervals do not hide each other.
        let offset = if lines.len() > 1 {
            (*k as f64 - (lines.len() - 1) as f64 / 2.0) * 0.06
        } else {
            0.0
        };
        let line: Vec<(f64, f64)> = points.iter().map(|p| (p.0 + offset, p.1)).collect();
        variant_line(c, *k, &line)?;
        c.draw_series(points.iter().map(|p| {
            PathElement::new(
                vec![(p.0 + offset, p.2), (p.0 + offset, p.3)],
                color.stroke_width(2),
            )
        }))?;
        c.draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_group_names() {
        let mut v = VariantAggregate::new("breaker a.b=1 c.d=x y", "", Vec::new(), 0, 1, 0);
        v.grid = vec![("a.b".into(), "1".into()), ("c.d".into(), "x y".into())];
        assert_eq!(grid_group_name(&v), "breaker");
        v.name = "a.b=1 c.d=x y".into();
        assert_eq!(grid_group_name(&v), "");
        v.name = "odd a.b=1 renamed".into();
        assert_eq!(grid_group_name(&v), "odd");
    }
}
