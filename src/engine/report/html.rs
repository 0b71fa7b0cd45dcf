//! `report.html`: the report's content in one self-contained page — inline CSS and SVG, no
//! script, no external reference of any kind, so it opens anywhere and prints well — with three
//! charts drawn from the samples the runs recorded (never reconstructed from totals): records per
//! type by outcome, throughput and Kustomer budget use over run time with 429s and faults marked,
//! and the phase timeline.

use super::markdown::{
    API_HOSTS, CHANGE_COLUMNS, OUTCOME_COLUMNS, OUTCOME_TABLES, RUN_COLUMNS, VERIFY_COLUMNS,
    assumption_lines, changes_text, header_lines, human_count, human_secs, outcome_cells,
    reason_lines, removed_kept_text, run_cells, sample_text, verification_headline, verify_cells,
};
use super::{Report, TypeRow};
use crate::engine::runner::EXTRACTION_LABEL;
use crate::ledger::Sample;
use crate::vocab::PhaseId;

/// Text made safe for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// Escaped text with `backticked` spans as `<code>` (decisions, checklist lines).
fn esc_code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2430;margin:2em auto;max-width:1100px;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccd;padding:.25em .5em;vertical-align:top}
th{background:#eef1f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}.note{color:#555;font-size:.9em}
svg{display:block;margin:.5em 0;max-width:100%;height:auto}svg text{font-family:inherit;font-size:11px;fill:#1d2430}
.legend span{display:inline-block;margin-right:1em;font-size:.85em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{page-break-after:avoid}svg,table,figure{page-break-inside:avoid}}
";

/// The outcome figures of a row with their chart colours, in the tables' order.
const OUTCOME_COLOURS: [&str; 8] = [
    "#2e7d32", "#9e9e9e", "#c62828", "#ef6c00", "#1565c0", "#6a1b9a", "#bdbdbd", "#f9a825",
];

/// A table; the columns in `numeric` are right-aligned.
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], numeric: std::ops::Range<usize>) {
    out.push_str("<table><thead><tr>");
    for h in head {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            out.push_str(&format!("<td{class}>{}</td>", esc_code(cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<div class=\"legend\">");
    for (label, colour) in items {
        out.push_str(&format!(
            "<span><i style=\"background:{colour}\"></i>{}</span>",
            esc(label)
        ));
    }
    out.push_str("</div>\n");
}

/// Records per Intercom type by outcome: one bar per type, each outcome its share of the bar
/// (types differ by orders of magnitude), the source count beside it.
fn outcome_chart(rows: &[&TypeRow]) -> String {
    if rows.is_empty() {
        return "<p class=\"note\">No records.</p>".to_string();
    }
    let (label_w, bar_w, row_h) = (190.0, 700.0, 20.0);
    let height = rows.len() as f64 * row_h + 10.0;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"records per type by outcome\" viewBox=\"0 0 {} {height}\" width=\"{}\" height=\"{height}\">",
        label_w + bar_w + 90.0,
        label_w + bar_w + 90.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 6.0,
            y + 13.0,
            esc(&row.object)
        ));
        let cells = outcome_cells(row);
        let total = cells[0].max(1) as f64;
        let mut x = label_w;
        for (n, colour) in cells[1..].iter().zip(OUTCOME_COLOURS) {
            if *n == 0 {
                continue;
            }
            let w = *n as f64 / total * bar_w;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"><title>{}</title></rect>",
                row_h - 4.0,
                human_count(*n)
            ));
            x += w;
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\">{}</text>",
            label_w + bar_w + 6.0,
            y + 13.0,
            human_count(cells[0])
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Each sample's place on a time axis that runs only while runs run: a run starts where the one
/// before it ended (a retry a day later does not leave a day of empty chart).
fn run_time_axis(series: &[Sample]) -> (Vec<f64>, Vec<(f64, i64)>) {
    let mut xs = Vec::with_capacity(series.len());
    let mut starts = Vec::new();
    let mut offset = 0.0;
    let mut current: Option<(Option<i64>, i64)> = None;
    for s in series {
        match current {
            Some((run, first)) if run == s.run_id => {
                xs.push(offset + (s.at_ms - first) as f64 / 1000.0);
            }
            _ => {
                offset = xs.last().copied().unwrap_or(0.0);
                current = Some((s.run_id, s.at_ms));
                starts.push((offset, s.run_id.unwrap_or(0)));
                xs.push(offset);
            }
        }
    }
    (xs, starts)
}

const CHART_W: f64 = 900.0;
const PLOT_LEFT: f64 = 130.0;
const PLOT_W: f64 = 710.0;

fn x_of(x: f64, span: f64) -> f64 {
    PLOT_LEFT + x / span * PLOT_W
}

/// Run boundaries as dashed lines, and a time scale under the plot.
fn time_frame(svg: &mut String, starts: &[(f64, i64)], span: f64, top: f64, bottom: f64) {
    for (x, run) in starts {
        let px = x_of(*x, span);
        svg.push_str(&format!(
            "<line x1=\"{px:.1}\" y1=\"{top}\" x2=\"{px:.1}\" y2=\"{bottom}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{}\">run #{run}</text>",
            px + 3.0,
            top + 10.0
        ));
    }
    for i in 0..=4 {
        let t = span * i as f64 / 4.0;
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x_of(t, span),
            bottom + 14.0,
            esc(&human_secs(t))
        ));
    }
}

/// Throughput (records settled per second between samples) and Kustomer budget use (requests
/// in the window over those allowed) over run time; 429s and faults marked where they rose.
fn throughput_chart(series: &[Sample]) -> String {
    if series.len() < 2 {
        return "<p class=\"note\">Not enough samples for a chart (the runs recorded fewer than two).</p>".to_string();
    }
    let (xs, starts) = run_time_axis(series);
    let span = xs.last().copied().unwrap_or(0.0).max(1.0);
    let (top, bottom) = (20.0, 220.0);
    let mut rates = vec![0.0; series.len()];
    for i in 1..series.len() {
        let same_run = series[i].run_id == series[i - 1].run_id;
        let dt = (xs[i] - xs[i - 1]).max(0.001);
        if same_run {
            rates[i] = series[i].settled.saturating_sub(series[i - 1].settled) as f64 / dt;
        }
    }
    let peak = rates.iter().copied().fold(1.0, f64::max);
    let y_rate = |r: f64| bottom - r / peak * (bottom - top);
    let y_pct = |p: f64| bottom - p.min(100.0) / 100.0 * (bottom - top);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"throughput and budget over time\" viewBox=\"0 0 {CHART_W} 250\" width=\"{CHART_W}\" height=\"250\">"
    );
    svg.push_str(&format!(
        "<rect x=\"{PLOT_LEFT}\" y=\"{top}\" width=\"{PLOT_W}\" height=\"{}\" fill=\"none\" stroke=\"#ccd\"/>",
        bottom - top
    ));
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}/s</text><text x=\"{}\" y=\"{bottom}\" text-anchor=\"end\">0</text>",
        PLOT_LEFT - 4.0,
        top + 4.0,
        human_count(peak.round() as u64),
        PLOT_LEFT - 4.0
    ));
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\">100%</text>",
        PLOT_LEFT + PLOT_W + 4.0,
        top + 4.0
    ));
    time_frame(&mut svg, &starts, span, top, bottom);
    let line = |points: Vec<(f64, f64)>, colour: &str| {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{y:.1}", x_of(*x, span)))
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" points=\"{}\"/>",
            pts.join(" ")
        )
    };
    let budget: Vec<(f64, f64)> = series
        .iter()
        .zip(&xs)
        .map(|(s, x)| {
            let pct = if s.kustomer_allowed == 0 {
                0.0
            } else {
                s.kustomer_used as f64 / s.kustomer_allowed as f64 * 100.0
            };
            (*x, y_pct(pct))
        })
        .collect();
    svg.push_str(&line(budget, "#ef6c00"));
    let throughput: Vec<(f64, f64)> = rates
        .iter()
        .zip(&xs)
        .map(|(r, x)| (*x, y_rate(*r)))
        .collect();
    svg.push_str(&line(throughput, "#1565c0"));
    for i in 1..series.len() {
        let px = x_of(xs[i], span);
        let throttled = |s: &Sample| s.kustomer_throttled + s.intercom_throttled;
        let rose = |f: &dyn Fn(&Sample) -> u64| f(&series[i]) > f(&series[i - 1]);
        if series[i].run_id == series[i - 1].run_id && rose(&throttled) {
            svg.push_str(&format!(
                "<path d=\"M{px:.1} {} l-4 -7 h8 z\" fill=\"#c62828\"><title>{} × 429</title></path>",
                top - 1.0,
                throttled(&series[i]) - throttled(&series[i - 1])
            ));
        }
        if series[i].run_id == series[i - 1].run_id && rose(&|s: &Sample| s.faults) {
            svg.push_str(&format!(
                "<circle cx=\"{px:.1}\" cy=\"{}\" r=\"3.5\" fill=\"#1d2430\"><title>{} fault(s)</title></circle>",
                bottom + 1.0,
                series[i].faults - series[i - 1].faults
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The phase timeline: when extraction and each phase were running, from the samples.
fn timeline_chart(series: &[Sample]) -> String {
    if series.len() < 2 {
        return String::new();
    }
    let (xs, starts) = run_time_axis(series);
    let span = xs.last().copied().unwrap_or(0.0).max(1.0);
    let mut lanes: Vec<&str> = vec![EXTRACTION_LABEL];
    lanes.extend(PhaseId::ALL.iter().map(|p| p.label()));
    let lane_h = 18.0;
    let top = 18.0;
    let bottom = top + lanes.len() as f64 * lane_h;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"phase timeline\" viewBox=\"0 0 {CHART_W} {}\" width=\"{CHART_W}\" height=\"{}\">",
        bottom + 24.0,
        bottom + 24.0
    );
    time_frame(&mut svg, &starts, span, 4.0, bottom);
    for (lane, label) in lanes.iter().enumerate() {
        let y = top + lane as f64 * lane_h;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"10\">{}</text>",
            PLOT_LEFT - 4.0,
            y + 12.0,
            esc(label)
        ));
        // A phase runs from a sample that lists it to the next sample of the same run, and
        // wherever its settled count moved between two samples (a phase shorter than the
        // sampling interval is listed by neither).
        for i in 0..series.len() - 1 {
            let (here, next) = (&series[i], &series[i + 1]);
            let listed = here.phases.iter().any(|p| p.as_str() == *label);
            let moved = next.settled_by_phase.get(*label) != here.settled_by_phase.get(*label);
            if here.run_id != next.run_id || !(listed || moved) {
                continue;
            }
            let (a, b) = (x_of(xs[i], span), x_of(xs[i + 1], span));
            svg.push_str(&format!(
                "<rect x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#5c6bc0\"/>",
                y + 2.0,
                (b - a).max(0.5),
                lane_h - 5.0
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

pub fn render_html(report: &Report) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str(&format!(
        "<title>Migration report{}</title><style>{STYLE}</style></head><body>\n<h1>Migration report</h1>\n<dl>",
        report
            .header
            .intercom_workspace
            .as_ref()
            .map(|w| format!(" — {}", esc(w)))
            .unwrap_or_default()
    ));
    for (label, mut value) in header_lines(report) {
        // Hosts as text, without their scheme: the page names no URL at all, so nothing in it
        // can be taken for a reference (report.md keeps the URLs whole).
        if label == API_HOSTS {
            value = value.replace("https://", "").replace("http://", "");
        }
        out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(label), esc(&value)));
    }
    out.push_str("</dl>\n");
    if report.restamped_times {
        out.push_str(&format!(
            "<p class=\"bad\">Re-stamped times: the run went ahead with a Kustomer key without {} (accepted by the operator): {}.</p>\n",
            esc(crate::kustomer::roles::ORG_ADMIN),
            esc(crate::kustomer::roles::RESTAMP_COST)
        ));
    }

    let intercom_rows: Vec<&TypeRow> = report
        .rows
        .iter()
        .filter(|r| r.intercom && r.source > 0)
        .collect();
    out.push_str("<h2>Where the records went</h2>\n<figure>");
    out.push_str(&outcome_chart(&intercom_rows));
    let outcome_legend: Vec<(&str, &str)> = OUTCOME_COLUMNS[2..]
        .iter()
        .copied()
        .zip(OUTCOME_COLOURS)
        .collect();
    legend(&mut out, &outcome_legend);
    out.push_str("<figcaption class=\"note\">Each bar is one Intercom type's records (its source count at the right), split by outcome.</figcaption></figure>\n");

    out.push_str("<h2>How the runs went</h2>\n<figure>");
    out.push_str(&throughput_chart(&report.series));
    legend(
        &mut out,
        &[
            ("records settled per second", "#1565c0"),
            (
                "Kustomer budget used (% of the window's allowance)",
                "#ef6c00",
            ),
            ("429 (throttled)", "#c62828"),
            ("fault (retried)", "#1d2430"),
        ],
    );
    out.push_str(&timeline_chart(&report.series));
    out.push_str(&format!(
        "<figcaption class=\"note\">Drawn from {} samples the runs recorded in the ledger; time counts only while a run ran.</figcaption></figure>\n",
        human_count(report.series.len() as u64)
    ));

    out.push_str("<h2>Runs</h2>\n");
    let runs: Vec<Vec<String>> = report.runs.iter().map(run_cells).collect();
    table(&mut out, &RUN_COLUMNS, &runs, 5..10);
    for r in &report.runs {
        if let Some((said, lines)) = sample_text(r) {
            out.push_str(&format!("<p>{}</p><ul>", esc(&said)));
            for line in &lines {
                out.push_str(&format!("<li>{}</li>", esc(line)));
            }
            out.push_str("</ul>\n");
        }
        if !r.defaults_taken.is_empty() {
            out.push_str(&format!("<p>Defaults run #{} took:</p><ul>", r.id));
            for d in &r.defaults_taken {
                out.push_str(&format!("<li>{}</li>", esc(d)));
            }
            out.push_str("</ul>\n");
        }
        if let Some(c) = changes_text(r) {
            out.push_str(&format!(
                "<h3>{}</h3>\n<p>{}</p>\n",
                esc(&c.heading),
                esc(&c.said)
            ));
            if !c.rows.is_empty() {
                table(&mut out, &CHANGE_COLUMNS, &c.rows, 1..CHANGE_COLUMNS.len());
            }
            if let Some(said) = &c.conflicts_said {
                out.push_str(&format!("<p>{}</p><ul>", esc_code(said)));
                for line in &c.conflicts {
                    out.push_str(&format!("<li>{}</li>", esc_code(line)));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    if let Some((heading, said, lines)) = removed_kept_text(report) {
        out.push_str(&format!(
            "<h3>{}</h3>\n<p>{}</p><ul>",
            esc(&heading),
            esc_code(&said)
        ));
        for line in &lines {
            out.push_str(&format!("<li>{}</li>", esc_code(line)));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>Decisions</h2>\n");
    let decisions: Vec<Vec<String>> = report
        .decisions
        .iter()
        .map(|d| vec![d.area.clone(), d.decision.clone(), d.affected.clone()])
        .collect();
    table(
        &mut out,
        &["area", "decision", "what it affected"],
        &decisions,
        0..0,
    );

    out.push_str("<h2>Verification</h2>\n");
    match &report.verification {
        None => out.push_str("<p>Not verified yet: <code>i2k verify --state DIR</code> counts both sides and writes the result here.</p>\n"),
        Some(v) => {
            let class = if v.verification.agrees() { "ok" } else { "bad" };
            out.push_str(&format!("<p class=\"{class}\">{}</p>\n", esc(&verification_headline(v))));
            let rows: Vec<Vec<String>> = v
                .verification
                .types
                .iter()
                .map(|t| verify_cells(v, t))
                .collect();
            table(&mut out, &VERIFY_COLUMNS, &rows, 1..4);
            let samples: Vec<Vec<String>> = v
                .verification
                .samples
                .iter()
                .map(|s| {
                    vec![
                        s.object.clone(),
                        s.source_id.clone(),
                        s.target_id.clone().unwrap_or_default(),
                        if s.mismatches.is_empty() { "matches".to_string() } else { s.mismatches.join("; ") },
                    ]
                })
                .collect();
            if !samples.is_empty() {
                out.push_str("<p>Field samples:</p>");
                table(&mut out, &["type", "Intercom id", "Kustomer id", "fields"], &samples, 0..0);
            }
        }
    }

    for (title, intercom) in OUTCOME_TABLES {
        out.push_str(&format!("<h2>{title}</h2>\n"));
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .filter(|r| r.intercom == intercom)
            .map(|r| {
                let mut cells = vec![r.object.clone()];
                cells.extend(outcome_cells(r).iter().map(|n| human_count(*n)));
                cells
            })
            .collect();
        table(&mut out, &OUTCOME_COLUMNS, &rows, 1..OUTCOME_COLUMNS.len());
    }

    out.push_str("<h2>Reasons</h2>\n<ul>");
    for line in reason_lines(report) {
        out.push_str(&format!("<li>{}</li>", esc(&line)));
    }
    out.push_str("</ul>\n<h2>Unconfirmed Kustomer shapes relied on</h2>\n<ul>");
    for line in assumption_lines(report) {
        out.push_str(&format!("<li>{}</li>", esc(&line)));
    }
    out.push_str("</ul>\n");
    if !report.fallbacks.is_empty() {
        out.push_str("<h2>Fallbacks taken</h2>\n<ul>");
        for line in &report.fallbacks {
            out.push_str(&format!("<li>{}</li>", esc(line)));
        }
        out.push_str("</ul>\n");
    }
    if report.warnings_total > 0 {
        out.push_str(&format!(
            "<h2>Records migrated with warnings ({})</h2>\n<ul>",
            human_count(report.warnings_total)
        ));
        for w in &report.warnings {
            out.push_str(&format!(
                "<li>{} {}: {}</li>",
                esc(&w.kind),
                esc(&w.id),
                esc(&w.message)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Rebuild by hand</h2>\n<ul>");
    for item in &report.checklist {
        out.push_str(&format!("<li>☐ <strong>{}</strong>", esc(&item.title)));
        if !item.detail.is_empty() {
            out.push_str(&format!(": {}", esc_code(&item.detail)));
        }
        if !item.lines.is_empty() {
            out.push_str("<ul>");
            for line in &item.lines {
                out.push_str(&format!("<li>{}</li>", esc_code(line)));
            }
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>\n<h2>Files</h2>\n<dl>");
    let f = &report.files;
    let follow_up = format!(
        "Failed, skipped and unknown records ({})",
        human_count(report.follow_up)
    );
    for (label, path) in [
        ("Text report", &f.report_md),
        ("Every figure as JSON", &f.report_json),
        (follow_up.as_str(), &f.follow_up_csv),
        ("Archive", &f.archive),
        ("Checklist", &f.manual),
    ] {
        out.push_str(&format!(
            "<dt>{}</dt><dd><code>{}</code></dd>",
            esc(label),
            esc(path)
        ));
    }
    out.push_str("</dl>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, phases: &[&str], settled: &[(&str, u64)]) -> Sample {
        Sample {
            run_id: Some(1),
            at_ms,
            phases: phases.iter().map(|p| p.to_string()).collect(),
            settled_by_phase: settled.iter().map(|(p, n)| (p.to_string(), *n)).collect(),
            ..Sample::default()
        }
    }

    /// Bars drawn in the timeline, one per (phase, interval).
    fn bars(svg: &str) -> usize {
        svg.matches("fill=\"#5c6bc0\"").count()
    }

    #[test]
    fn a_phase_shorter_than_the_sampling_interval_still_shows_on_the_timeline() {
        let brief = PhaseId::ALL[0].label();
        let long = PhaseId::ALL[1].label();
        // `brief` ran and ended between two samples: no sample lists it, its count moved.
        let series = vec![
            sample(0, &[long], &[(brief, 0), (long, 0)]),
            sample(2_000, &[long], &[(brief, 7), (long, 40)]),
            sample(4_000, &[], &[(brief, 7), (long, 90)]),
        ];
        let svg = timeline_chart(&series);
        // `long`: two intervals; `brief`: the one where it moved.
        assert_eq!(bars(&svg), 3, "{svg}");
        // Nothing moved and nothing listed: no bar.
        let idle = vec![
            sample(0, &[], &[(brief, 7)]),
            sample(2_000, &[], &[(brief, 7)]),
        ];
        assert_eq!(bars(&timeline_chart(&idle)), 0);
    }
}
