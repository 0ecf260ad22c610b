//! Trend charts (D3): readings drawn on the server as standalone SVG, shown on the patient's page, in
//! the doctor's side panel and in the record export.
//!
//! `plotters` (SVG backend) draws the plotting area: target bands, grid, axes, lines, points and
//! alert rings. Text (tick labels, unit, legend, empty-state message) is written here as SVG
//! `<text>` that inherits one font stack from the root: without its `ttf` feature plotters does emit
//! `<text>`, but it measures text by byte length (a Chinese label counts three times too wide) and
//! scales font sizes by 1/1.24, so its legend and label layout come out wrong. Dates are China time
//! (UTC+8). The root keeps `viewBox` with a 720×320 intrinsic size, so CSS `width:100%;height:auto`
//! scales it. The output is deterministic and has no scripts or external resources.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use domain::reading::{GlucoseContext, ReadingKind, Severity};
use plotters::prelude::*;

/// One reading on a chart.
#[derive(Debug, Clone)]
pub struct ChartPoint {
    pub at: DateTime<Utc>,
    /// Canonical values by name, as stored: `systolic`/`diastolic` (mmHg), `glucose` (mmol/L), `weight` (kg), `heart_rate` (/min), `spo2` (%).
    pub values: BTreeMap<String, f64>,
    pub context: Option<GlucoseContext>,
    /// The alert this reading raised, if any (drawn as a marker: red ring for urgent, amber for warning).
    pub alert: Option<Severity>,
}

/// Labels in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// What to draw besides the readings.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub kind: ReadingKind,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Target band (shaded), in canonical units: for blood pressure the band is drawn for systolic (e.g. 90..140) and a second for diastolic (60..90) — use `bands`.
    pub bands: Vec<(f64, f64)>,
    pub lang: Lang,
}

const W: u32 = 720;
const H: u32 = 320;
const LEFT: u32 = 64;
const RIGHT: u32 = 22;
const BOTTOM: u32 = 38;
/// Legend row height; the plot starts below the last row.
const ROW: u32 = 28;
const FONT: f64 = 18.0;
const FONT_FAMILY: &str = r#"system-ui, "PingFang SC", "Microsoft YaHei", sans-serif"#;
const CHINA_OFFSET: i64 = 8 * 3600;
const DAY: i64 = 86_400;
const POINT_R: u32 = 4;
const RING_R: u32 = 9;

// Colours, 0xRRGGBB.
const SYSTOLIC: u32 = 0x00B4_2318;
const BLUE: u32 = 0x0015_70EF;
const POST_MEAL: u32 = 0x007A_2ED6;
const RANDOM: u32 = 0x000E_9384;
const BAND: u32 = 0x0012_B76A;
const BAND_FILL: u32 = 0x00D3_F8DF;
const BAND_EDGE: u32 = 0x0075_E0A7;
const URGENT: u32 = 0x00D9_2D20;
const WARNING: u32 = 0x00F7_9009;
const GRID: u32 = 0x00EA_ECF0;
const AXIS: u32 = 0x0098_A2B3;

const fn rgb(c: u32) -> RGBColor {
    let [_, r, g, b] = c.to_be_bytes();
    RGBColor(r, g, b)
}

/// As plotters writes colours.
fn hex(c: u32) -> String {
    format!("#{c:06X}")
}

/// A series: legend label, value key, colour, whether points are joined, and (x in days, y) points.
struct Series {
    label: &'static str,
    key: &'static str,
    color: u32,
    line: bool,
    pts: Vec<(f64, f64)>,
}

/// An alert ring: x, y, severity.
type Ring = (f64, f64, Severity);

/// Scales from data to the viewBox, with the ticks: x in days with its label, y values.
struct Frame {
    top: u32,
    days: f64,
    y: (f64, f64),
    xticks: Vec<(f64, String)>,
    yticks: Vec<f64>,
}

impl Frame {
    fn px(&self, x: f64, y: f64) -> (f64, f64) {
        let (l, r, b) = (f64::from(LEFT), f64::from(W - RIGHT), f64::from(H - BOTTOM));
        (l + x / self.days * (r - l), b - (y - self.y.0) / (self.y.1 - self.y.0) * (b - f64::from(self.top)))
    }
}

fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

/// Seconds as `f64` (chart spans are far below 2^52 s, so nothing is lost).
#[allow(clippy::cast_precision_loss)]
fn secs_f64(s: i64) -> f64 {
    s as f64
}

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let s = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    s.replace('"', "&quot;").replace('\'', "&apos;")
}

/// Appends `<text>` with escaped content; `attrs` starts with a space when not empty.
fn text(out: &mut String, x: f64, y: f64, attrs: &str, s: &str) {
    let _ = write!(out, r#"<text x="{x:.0}" y="{y:.0}"{attrs}>{}</text>"#, esc(s));
}

/// Rough rendered width (CJK one em, Latin about half), for laying out labels.
fn text_width(s: &str, size: f64) -> f64 {
    let em = |c: char| match c {
        ' ' | 'i' | 'j' | 'l' | 't' | 'f' | 'r' | '-' | '/' | '.' => 0.33,
        'm' | 'w' | 'M' | 'W' | '%' => 0.86,
        'A'..='Z' => 0.68,
        c if c.is_ascii() => 0.57,
        _ => 1.0,
    };
    s.chars().map(em).sum::<f64>() * size
}

fn series_of(kind: ReadingKind, lang: Lang) -> Vec<Series> {
    let s = |zh, en, key, color, line| Series { label: tr(lang, zh, en), key, color, line, pts: Vec::new() };
    match kind {
        ReadingKind::BloodPressure => {
            vec![s("收缩压", "Systolic", "systolic", SYSTOLIC, true), s("舒张压", "Diastolic", "diastolic", BLUE, true)]
        }
        // In `GlucoseContext::ALL` order. Points only: a line across contexts would mean nothing.
        ReadingKind::Glucose => vec![
            s("空腹", "Fasting", "glucose", BLUE, false),
            s("餐后", "Post-meal", "glucose", POST_MEAL, false),
            s("随机", "Random", "glucose", RANDOM, false),
        ],
        ReadingKind::Weight => vec![s("体重", "Weight", "weight", RANDOM, true)],
        ReadingKind::HeartRate => vec![s("心率", "Heart rate", "heart_rate", SYSTOLIC, true)],
        ReadingKind::Spo2 => vec![s("血氧", "SpO2", "spo2", BLUE, true)],
    }
}

/// (name, unit, default y range when there is nothing to scale to, least padding).
const fn kind_info(kind: ReadingKind, lang: Lang) -> (&'static str, &'static str, (f64, f64), f64) {
    let zh = matches!(lang, Lang::Zh);
    match kind {
        ReadingKind::BloodPressure => (if zh { "血压" } else { "Blood pressure" }, "mmHg", (40.0, 200.0), 5.0),
        ReadingKind::Glucose => (if zh { "血糖" } else { "Blood glucose" }, "mmol/L", (2.0, 16.0), 0.5),
        ReadingKind::Weight => (if zh { "体重" } else { "Weight" }, "kg", (40.0, 100.0), 1.0),
        ReadingKind::HeartRate => (if zh { "心率" } else { "Heart rate" }, "/min", (40.0, 140.0), 5.0),
        ReadingKind::Spo2 => (if zh { "血氧" } else { "SpO2" }, "%", (85.0, 100.0), 1.0),
    }
}

/// The y range (rounded out to whole steps) and its ticks, from the values and the bands.
fn y_axis(kind: ReadingKind, values: impl Iterator<Item = f64>, bands: &[(f64, f64)]) -> ((f64, f64), Vec<f64>) {
    let (_, _, default, min_pad) = kind_info(kind, Lang::En);
    let all = values.chain(bands.iter().flat_map(|&(a, b)| [a, b])).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.08).max(min_pad);
    let (lo, hi) = if lo.is_finite() { (lo - pad, hi + pad) } else { default };
    // The smallest round step that needs at most 8 intervals.
    let mag = 10f64.powf(((hi - lo) / 8.0).log10().floor());
    let fits = |s: &f64| (hi / s).ceil() - (lo / s).floor() <= 8.0;
    let step = [1.0, 2.0, 2.5, 5.0].into_iter().map(|m| m * mag).find(fits).unwrap_or(10.0 * mag);
    let lo = ((lo / step).floor() * step).max(0.0);
    let hi = if kind == ReadingKind::Spo2 { ((hi / step).ceil() * step).min(100.0) } else { (hi / step).ceil() * step };
    let ticks = std::iter::successors(Some(lo), |v| Some(v + step)).take_while(|v| *v <= hi + step * 1e-6);
    ((lo, hi), ticks.collect())
}

/// A tick value with as many decimals as the step has (up to two).
fn format_tick(v: f64, step: f64) -> String {
    let decimals = usize::from(step.fract() != 0.0) + usize::from((step * 10.0).fract().abs() > 1e-9);
    format!("{v:.decimals$}")
}

/// Time ticks in China time: at most 8, on whole days (labelled `MM-DD`) or, for spans up to two
/// days, whole hours (`HH:MM`). Returns (seconds after `from`, label).
fn x_ticks(from: i64, to: i64) -> Vec<(i64, String)> {
    const HOURS: [i64; 16] = [1, 2, 3, 6, 12, 24, 48, 72, 120, 168, 336, 504, 672, 1344, 2184, 4368];
    let step = HOURS.iter().map(|h| h * 3600).find(|s| (to - from) / s <= 7).unwrap_or(8760 * 3600);
    let (local_from, local_to) = (from + CHINA_OFFSET, to + CHINA_OFFSET);
    let align = step.min(DAY);
    let first = (local_from + align - 1).div_euclid(align) * align;
    let fmt = if step < DAY { "%H:%M" } else { "%m-%d" };
    let count = if local_to < first { 0 } else { (local_to - first) / step + 1 };
    (0..count)
        .map(|k| first + k * step)
        .filter_map(|t| DateTime::from_timestamp(t, 0).map(|d| (t - local_from, d.format(fmt).to_string())))
        .collect()
}

/// Splits the period's readings into series, with a ring for each alert around the value furthest
/// outside its band (for blood pressure `bands[i]` is series `i`'s). Also returns how many readings
/// fell in the period.
fn collect(spec: &ChartSpec, points: &[ChartPoint], from: i64, to: i64) -> (Vec<Series>, Vec<Ring>, usize) {
    let mut series = series_of(spec.kind, spec.lang);
    let mut in_range: Vec<&ChartPoint> = points.iter().filter(|p| (from..=to).contains(&p.at.timestamp())).collect();
    in_range.sort_by_key(|p| p.at);
    let mut rings = Vec::new();
    for p in &in_range {
        let x = secs_f64(p.at.timestamp() - from) / secs_f64(DAY);
        // Glucose goes to its context's series (none counts as random); other kinds to every series.
        let context = GlucoseContext::ALL.iter().position(|c| Some(*c) == p.context);
        let only = (spec.kind == ReadingKind::Glucose).then_some(context.unwrap_or(2));
        let mut best: Option<(f64, f64)> = None;
        for (i, s) in series.iter_mut().enumerate().filter(|(i, _)| only.is_none_or(|o| o == *i)) {
            let Some(&v) = p.values.get(s.key).filter(|v| v.is_finite()) else { continue };
            s.pts.push((x, v));
            let band = if spec.kind == ReadingKind::BloodPressure { spec.bands.get(i) } else { spec.bands.first() };
            let excess = band.map_or(0.0, |&(lo, hi)| (v - hi).max(lo - v));
            if best.is_none_or(|(e, _)| excess > e) {
                best = Some((excess, v));
            }
        }
        if let (Some(sev), Some((_, y))) = (p.alert, best) {
            rings.push((x, y, sev));
        }
    }
    (series, rings, in_range.len())
}

/// The legend: the unit, then the series, the band and the alert kinds drawn, in rows that fit the
/// width. Returns its SVG and the index of its last row.
fn legend(spec: &ChartSpec, series: &[Series], rings: &[Ring]) -> (String, u32) {
    let lang = spec.lang;
    // (swatch kind, colour, label): 0 line, 1 dot, 2 band, 3 ring.
    let mut items: Vec<(u8, u32, &str)> = series.iter().map(|s| (u8::from(!s.line), s.color, s.label)).collect();
    if !spec.bands.is_empty() {
        items.push((2, BAND, tr(lang, "目标范围", "Target range")));
    }
    let alerts = [(Severity::Urgent, URGENT, "紧急", "Urgent"), (Severity::Warning, WARNING, "预警", "Warning")];
    for (_, color, zh, en) in alerts.into_iter().filter(|a| rings.iter().any(|r| r.2 == a.0)) {
        items.push((3, color, tr(lang, zh, en)));
    }
    let unit = kind_info(spec.kind, lang).1;
    let mut out = String::new();
    text(&mut out, 16.0, 28.0, "", unit);
    let start = (40.0 + text_width(unit, FONT)).max(f64::from(LEFT));
    let (mut x, mut row) = (start, 0);
    for (swatch, color, label) in items {
        let w = 24.0 + text_width(label, FONT);
        if x + w > f64::from(W - RIGHT) && x > start {
            (x, row) = (start, row + 1);
        }
        let (cx, cy, c, fill) = (x + 8.0, f64::from(22 + row * ROW), hex(color), hex(BAND_FILL));
        let (at, top) = (format!(r#"cx="{cx:.0}" cy="{cy}""#), cy - 6.0);
        let line = format!(r#"<path d="M{x:.0} {cy}h16" stroke="{c}" stroke-width="2"/>"#);
        let _ = match swatch {
            0 => write!(out, r#"{line}<circle {at} r="4" fill="{c}"/>"#),
            1 => write!(out, r#"<circle {at} r="5" fill="{c}"/>"#),
            2 => write!(out, r#"<rect x="{x:.0}" y="{top}" width="16" height="12" fill="{fill}" stroke="{c}"/>"#),
            _ => write!(out, r#"<circle {at} r="6" fill="none" stroke="{c}" stroke-width="2.5"/>"#),
        };
        text(&mut out, x + 22.0, cy + 6.0, "", label);
        x += w + 16.0;
    }
    (out, row)
}

/// The accessible title: what, which period (China dates), how many readings.
fn title(spec: &ChartSpec, from: i64, to: i64, n: usize) -> String {
    let name = kind_info(spec.kind, spec.lang).0;
    let day = |t: i64| DateTime::from_timestamp(t + CHINA_OFFSET, 0).map(|d| d.format("%Y-%m-%d").to_string());
    let (d0, d1) = (day(from).unwrap_or_default(), day(to).unwrap_or_default());
    match spec.lang {
        Lang::Zh => format!("{name}趋势图，{d0} 至 {d1}，共 {n} 次读数"),
        Lang::En => format!("{name} trend, {d0} to {d1}, {n} readings"),
    }
}

/// The chart as a standalone SVG document (no external resources, no scripts). With no points it still
/// draws the axes and a centred "no readings in this period" / "此期间没有读数" message.
pub fn render(spec: &ChartSpec, points: &[ChartPoint]) -> String {
    let from = spec.from.timestamp();
    let to = spec.to.timestamp().max(from + 3600);
    let (series, rings, n) = collect(spec, points, from, to);
    let (yr, yticks) = y_axis(spec.kind, series.iter().flat_map(|s| s.pts.iter().map(|p| p.1)), &spec.bands);
    let (legend, rows) = legend(spec, &series, &rings);
    let xticks = x_ticks(from, to).into_iter().map(|(s, l)| (secs_f64(s) / secs_f64(DAY), l)).collect();
    let frame = Frame { top: 48 + rows * ROW, days: secs_f64(to - from) / secs_f64(DAY), y: yr, xticks, yticks };

    let mut plot = String::new();
    if let Err(e) = draw_plot(&mut plot, &frame, &series, &rings, &spec.bands) {
        tracing::warn!("trend chart drawing failed: {e}");
    }
    // Keep what plotters drew inside its root element; the root is written here.
    let body = plot.split_once(">\n").map_or("", |(_, b)| b);
    let body = body.rfind("</svg>").map_or(body, |i| &body[..i]);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" font-family='{FONT_FAMILY}' font-size="{FONT}">"#
    );
    let _ = write!(out, "\n<title>{}</title>\n{body}", esc(&title(spec, from, to, n)));
    out.push_str(r##"<g class="axis-labels" fill="#475467">"##);
    let step = frame.yticks.get(1).zip(frame.yticks.first()).map_or(1.0, |(b, a)| b - a);
    for v in &frame.yticks {
        text(&mut out, f64::from(LEFT - 8), frame.px(0.0, *v).1 + 6.0, r#" text-anchor="end""#, &format_tick(*v, step));
    }
    // Keep each date label inside the image and clear of the previous one.
    let mut last_right = f64::NEG_INFINITY;
    for (xd, label) in &frame.xticks {
        let half = text_width(label, FONT) / 2.0;
        let cx = frame.px(*xd, yr.0).0.clamp(half + 4.0, f64::from(W) - half - 4.0);
        if cx - half >= last_right + 8.0 {
            last_right = cx + half;
            text(&mut out, cx, f64::from(H - 12), r#" text-anchor="middle""#, label);
        }
    }
    let _ = write!(out, "</g>\n<g class=\"legend\" fill=\"#344054\">{legend}</g>\n");
    if series.iter().all(|s| s.pts.is_empty()) {
        let (cx, cy) = (frame.px(frame.days / 2.0, yr.0).0, f64::from(frame.top + H - BOTTOM) / 2.0);
        let msg = tr(spec.lang, "此期间没有读数", "No readings in this period");
        let half = text_width(msg, 20.0) / 2.0 + 14.0;
        let (x, y, w) = (cx - half, cy - 17.0, 2.0 * half);
        let _ = write!(out, r##"<rect x="{x:.0}" y="{y:.0}" width="{w:.0}" height="34" rx="6" fill="#FFFFFF"/>"##);
        text(&mut out, cx, cy + 7.0, r##" class="empty" text-anchor="middle" font-size="20" fill="#667085""##, msg);
    }
    out.push_str("</svg>\n");
    out
}

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws bands, grid, axes, series and alert rings with plotters into `buf` (a whole SVG document).
fn draw_plot(buf: &mut String, frame: &Frame, series: &[Series], rings: &[Ring], bands: &[(f64, f64)]) -> DrawResult {
    let root = SVGBackend::with_string(buf, (W, H)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x1, (y0, y1)) = (frame.days, frame.y);
    let area = root.margin(frame.top, BOTTOM, LEFT, RIGHT);
    let mut chart = ChartBuilder::on(&area).build_cartesian_2d(0.0..x1, y0..y1)?;
    let shown = bands.iter().map(|&(lo, hi)| (lo.max(y0), hi.min(y1))).filter(|(lo, hi)| lo < hi);
    chart
        .draw_series(shown.map(|(lo, hi)| Rectangle::new([(0.0, hi), (x1, lo)], rgb(BAND_FILL).mix(0.75).filled())))?;
    let hline = |y: f64, c: u32| PathElement::new(vec![(0.0, y), (x1, y)], rgb(c).stroke_width(1));
    let vline = |x: f64, c: u32| PathElement::new(vec![(x, y0), (x, y1)], rgb(c).stroke_width(1));
    chart.draw_series(frame.xticks.iter().map(|(x, _)| vline(*x, GRID)))?;
    chart.draw_series(frame.yticks.iter().map(|y| hline(*y, GRID)))?;
    let edges = bands.iter().flat_map(|&(lo, hi)| [lo, hi]).filter(|v| (y0..=y1).contains(v));
    chart.draw_series(edges.map(|y| hline(y, BAND_EDGE)))?;
    chart.draw_series([hline(y0, AXIS), vline(0.0, AXIS)])?;
    for s in series.iter().filter(|s| s.line && s.pts.len() > 1) {
        chart.draw_series(LineSeries::new(s.pts.iter().copied(), rgb(s.color).stroke_width(2)))?;
    }
    for s in series {
        chart.draw_series(s.pts.iter().map(|p| Circle::new(*p, POINT_R, rgb(s.color).filled())))?;
    }
    chart.draw_series(rings.iter().map(|&(x, y, sev)| {
        Circle::new((x, y), RING_R, rgb(if sev == Severity::Urgent { URGENT } else { WARNING }).stroke_width(3))
    }))?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// 2024-11-25 00:00 China time.
    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, 24, 16, 0, 0).unwrap()
    }

    fn spec(kind: ReadingKind, lang: Lang, bands: &[(f64, f64)]) -> ChartSpec {
        ChartSpec { kind, from: start(), to: start() + chrono::Duration::days(90), bands: bands.to_vec(), lang }
    }

    const BP: [(f64, f64); 2] = [(90.0, 140.0), (60.0, 90.0)];
    const BP_ZH: [&str; 5] = ["收缩压", "舒张压", "目标范围", "紧急", "预警"];
    const BP_EN: [&str; 5] = ["Systolic", "Diastolic", "Target range", "Urgent", "Warning"];
    const GLUCOSE_ZH: [&str; 4] = ["空腹", "餐后", "随机", "紧急"];
    const GLUCOSE_EN: [&str; 4] = ["Fasting", "Post-meal", "Random", "Urgent"];

    fn point(hours: i64, values: &[(&str, f64)], context: Option<GlucoseContext>) -> ChartPoint {
        let values = values.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        ChartPoint { at: start() + chrono::Duration::hours(hours), values, context, alert: None }
    }

    /// 90 days of twice-daily blood pressure (07:00 and 19:00 China time), one urgent and one warning.
    fn bp_points() -> Vec<ChartPoint> {
        let wave = |i: i32| f64::from(i % 17) * 1.7 + f64::from(i % 5) * 2.0;
        let bp = |i: i32| [("systolic", 124.0 + wave(i)), ("diastolic", 76.0 + wave(i) / 2.0)];
        let mut pts: Vec<ChartPoint> = (0..180_i32).map(|i| point(i64::from(i) * 12 + 7, &bp(i), None)).collect();
        pts[40].values.insert("systolic".into(), 186.0);
        pts[40].alert = Some(Severity::Urgent);
        pts[120].values.insert("diastolic".into(), 98.0);
        pts[120].alert = Some(Severity::Warning);
        pts
    }

    fn glucose_points() -> Vec<ChartPoint> {
        let mut pts = Vec::new();
        for d in 0..60_i32 {
            let h = i64::from(d) * 24;
            pts.push(point(h + 7, &[("glucose", 5.6 + f64::from(d % 7) * 0.3)], Some(GlucoseContext::Fasting)));
            pts.push(point(h + 9, &[("glucose", 8.0 + f64::from(d % 5) * 0.6)], Some(GlucoseContext::PostMeal)));
            pts.extend((d % 10 == 0).then(|| point(h + 15, &[("glucose", 7.0)], None)));
        }
        pts[30].values.insert("glucose".into(), 16.8);
        pts[30].alert = Some(Severity::Urgent);
        pts
    }

    fn ensure(ok: bool, why: impl Into<String>) -> Result<(), String> {
        if ok { Ok(()) } else { Err(why.into()) }
    }

    /// A small well-formedness check: one root, balanced tags, quoted attributes, no raw `<` and no
    /// `&` but the five entities in text or attribute values.
    fn check_xml(s: &str) -> Result<(), String> {
        let entity =
            |t: &str, i: usize| ["amp;", "lt;", "gt;", "quot;", "apos;"].iter().any(|e| t[i + 1..].starts_with(e));
        let escaped = |t: &str| !t.contains('<') && t.match_indices('&').all(|(i, _)| entity(t, i));
        let (mut stack, mut rest) = (Vec::new(), s.trim());
        ensure(rest.starts_with('<'), "text before the root")?;
        while let Some(i) = rest.find('<') {
            let end = rest[i..].find('>').ok_or("unterminated tag")? + i;
            let (text, tag) = (&rest[..i], &rest[i + 1..end]);
            rest = &rest[end + 1..];
            ensure(escaped(text), format!("unescaped {text:?}"))?;
            if let Some(name) = tag.strip_prefix('/') {
                ensure(stack.pop() == Some(name), format!("unbalanced </{name}>"))?;
            } else {
                let body = tag.strip_suffix('/').unwrap_or(tag);
                let (name, mut attrs) = body.split_once(' ').unwrap_or((body, ""));
                while let Some((key, value)) = attrs.trim_start().split_once('=') {
                    let q = value.chars().next().filter(|q| *q == '"' || *q == '\'').ok_or("unquoted attribute")?;
                    let close = value[1..].find(q).ok_or("unterminated attribute")? + 1;
                    ensure(!key.contains(' ') && escaped(&value[1..close]), format!("bad attribute {key}"))?;
                    attrs = &value[close + 1..];
                }
                ensure(attrs.trim().is_empty(), format!("junk in <{name}>"))?;
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            ensure(!stack.is_empty() || rest.trim().is_empty(), "content after the root")?;
        }
        ensure(stack.is_empty(), format!("unclosed {stack:?}"))
    }

    /// The part plotters drew (before the labels and legend).
    fn plot_part(svg: &str) -> &str {
        &svg[..svg.find("<g class=\"axis-labels\"").unwrap()]
    }

    fn count(hay: &str, needle: &str) -> usize {
        hay.matches(needle).count()
    }

    #[test]
    fn text_is_escaped_and_the_checker_rejects_broken_xml() {
        for bad in ["<svg><g></svg>", "<svg><text>a & b</text></svg>", "<svg a=b/>", "<svg/><svg/>", "<svg a=\"<\"/>"] {
            assert!(check_xml(bad).is_err(), "{bad}");
        }
        assert!(check_xml(r#"<svg a="&lt;1" b='"'><t>x &amp; y</t><u/></svg>"#).is_ok());
        assert_eq!(esc(r#"<a & 'b'> "c""#), "&lt;a &amp; &apos;b&apos;&gt; &quot;c&quot;");
        let mut out = String::new();
        text(&mut out, 1.0, 2.0, "", "血压 <140 & \"目标\"");
        assert_eq!(out, r#"<text x="1" y="2">血压 &lt;140 &amp; &quot;目标&quot;</text>"#);
        check_xml(&out).unwrap();
    }

    #[test]
    fn blood_pressure_chart_is_accessible_well_formed_and_deterministic() {
        let zh = "血压趋势图，2024-11-25 至 2025-02-23，共 180 次读数";
        let en = "Blood pressure trend, 2024-11-25 to 2025-02-23, 180 readings";
        for (lang, title, labels) in [(Lang::Zh, zh, BP_ZH), (Lang::En, en, BP_EN)] {
            let t = std::time::Instant::now();
            let svg = render(&spec(ReadingKind::BloodPressure, lang, &BP), &bp_points());
            // Generous for unoptimised test builds; a release build takes well under a millisecond.
            assert!(t.elapsed() < std::time::Duration::from_millis(200), "{:?}", t.elapsed());
            check_xml(&svg).unwrap();
            assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 320""#));
            assert!(svg.contains(r#"role="img""#) && svg.contains(&format!("\n<title>{title}</title>\n")));
            for label in labels.iter().chain(&["mmHg", "11-25", "180"]) {
                assert!(svg.contains(&format!(">{label}<")), "missing {label}");
            }
            assert!(svg.contains(r#"font-family='system-ui, "PingFang SC", "Microsoft YaHei", sans-serif'"#));
            assert!(
                !svg.contains("<script") && !svg.contains("href") && svg.contains(">Systolic<") == (lang == Lang::En)
            );
            assert_eq!(count(plot_part(&svg), &format!(r#"fill="{}" stroke="none""#, hex(BAND_FILL))), 2, "bands");
            assert_eq!(svg, render(&spec(ReadingKind::BloodPressure, lang, &BP), &bp_points()));
        }
    }

    #[test]
    fn every_reading_gets_a_point_and_every_alert_a_ring() {
        let svg = render(&spec(ReadingKind::BloodPressure, Lang::En, &BP), &bp_points());
        let plot = plot_part(&svg);
        assert_eq!(count(plot, &format!(r#"r="{POINT_R}""#)), 360, "180 readings, two values each");
        let ring = |c| format!(r#"r="{RING_R}" opacity="1" fill="none" stroke="{}""#, hex(c));
        assert_eq!((count(plot, &ring(URGENT)), count(plot, &ring(WARNING))), (1, 1));
        assert_eq!(count(plot, &format!(r#"<polyline fill="none" opacity="1" stroke="{}""#, hex(SYSTOLIC))), 1);
        // The warning came from the diastolic value (98): its ring circles that point.
        let centre = plot[..plot.find(&ring(WARNING)).unwrap()].rsplit("<circle ").next().unwrap();
        let dot = format!(r#"<circle {centre}r="{POINT_R}" opacity="1" fill="{}""#, hex(BLUE));
        assert!(plot.contains(&dot), "{dot}");
        let sys_only: Vec<ChartPoint> = (0..180).map(|i| point(i * 12, &[("systolic", 130.0)], None)).collect();
        let svg = render(&spec(ReadingKind::BloodPressure, Lang::En, &BP), &sys_only);
        assert_eq!(count(plot_part(&svg), &format!(r#"r="{POINT_R}""#)), 180);
    }

    #[test]
    fn glucose_is_coloured_by_context_without_lines() {
        let pts = glucose_points();
        for (lang, labels) in [(Lang::Zh, GLUCOSE_ZH), (Lang::En, GLUCOSE_EN)] {
            let svg = render(&spec(ReadingKind::Glucose, lang, &[(4.4, 10.0)]), &pts);
            check_xml(&svg).unwrap();
            for label in labels {
                assert!(svg.contains(&format!(">{label}<")), "missing {label}");
            }
            assert!(svg.contains(">mmol/L<") && !svg.contains(">预警<") && !svg.contains(">Warning<"));
            let plot = plot_part(&svg);
            assert_eq!(count(plot, &format!(r#"<polyline fill="none" opacity="1" stroke="{}""#, hex(BLUE))), 0);
            let dots = |c| count(plot, &format!(r#"r="{POINT_R}" opacity="1" fill="{}""#, hex(c)));
            assert_eq!((dots(BLUE), dots(POST_MEAL), dots(RANDOM)), (60, 60, 6));
        }
    }

    #[test]
    fn empty_period_still_draws_axes_and_says_so() {
        for (lang, msg) in [(Lang::Zh, "此期间没有读数"), (Lang::En, "No readings in this period")] {
            let svg = render(&spec(ReadingKind::Weight, lang, &[]), &[]);
            check_xml(&svg).unwrap();
            assert!(svg.contains(&format!(">{msg}</text>")));
            assert!(svg.contains(">kg<") && svg.contains(">11-25<") && svg.contains(">100<"));
            assert!(!svg.contains(&hex(BAND_FILL)) && !svg.contains("目标范围") && !svg.contains("Target range"));
            assert_eq!(count(plot_part(&svg), "<circle"), 0);
            assert!(count(plot_part(&svg), "<polyline") > 5, "grid and axes");
        }
        // Readings outside the period do not count.
        let svg = render(&spec(ReadingKind::Weight, Lang::En, &[]), &[point(-48, &[("weight", 70.0)], None)]);
        assert!(svg.contains("No readings in this period"));
        let svg = render(&spec(ReadingKind::Weight, Lang::En, &[]), &[point(48, &[("weight", 70.0)], None)]);
        assert!(!svg.contains("No readings in this period"));
    }

    #[test]
    fn axes_use_china_dates_and_round_ranges() {
        let ticks = x_ticks(start().timestamp(), (start() + chrono::Duration::days(90)).timestamp());
        assert!((6..=8).contains(&ticks.len()), "{ticks:?}");
        assert_eq!((ticks[0].0, ticks[0].1.as_str(), ticks[1].1.as_str()), (0, "11-25", "12-09"));
        let hours = x_ticks(start().timestamp() + 1800, (start() + chrono::Duration::hours(24)).timestamp());
        let labels: Vec<&str> = hours.iter().map(|t| t.1.as_str()).collect();
        assert_eq!((labels.len(), labels[0], labels[1], labels[7]), (8, "03:00", "06:00", "00:00"));
        let ((lo, hi), ticks) = y_axis(ReadingKind::BloodPressure, [186.0, 70.0].into_iter(), &[(60.0, 90.0)]);
        assert_eq!((lo, hi, ticks.len()), (40.0, 200.0, 9));
        let ((_, hi), _) = y_axis(ReadingKind::Spo2, [99.0, 100.0].into_iter(), &[]);
        assert!((hi - 100.0).abs() < f64::EPSILON);
        assert_eq!((format_tick(7.5, 2.5), format_tick(140.0, 20.0)), ("7.5".into(), "140".into()));
    }

    /// Writes samples for review: `cargo test -p app chart::tests::samples -- --ignored`.
    #[test]
    #[ignore = "writes sample files to /tmp/charts"]
    fn samples() {
        std::fs::create_dir_all("/tmp/charts").unwrap();
        let mut weight: Vec<ChartPoint> = (0..13_i32)
            .map(|w| point(i64::from(w) * 168 + 7, &[("weight", 82.0 - f64::from(w) * 0.35)], None))
            .collect();
        weight[6].alert = Some(Severity::Warning);
        let mut glucose_en = glucose_points();
        glucose_en[51].alert = Some(Severity::Warning);
        let samples = [
            ("bp", spec(ReadingKind::BloodPressure, Lang::Zh, &BP), bp_points()),
            ("glucose", spec(ReadingKind::Glucose, Lang::Zh, &[(4.4, 10.0)]), glucose_points()),
            ("glucose_en", spec(ReadingKind::Glucose, Lang::En, &[(4.4, 10.0)]), glucose_en),
            ("weight", spec(ReadingKind::Weight, Lang::En, &[]), weight),
            ("empty", spec(ReadingKind::BloodPressure, Lang::Zh, &BP), vec![]),
        ];
        for (name, spec, pts) in samples {
            std::fs::write(format!("/tmp/charts/{name}.svg"), render(&spec, &pts)).unwrap();
        }
    }
}
