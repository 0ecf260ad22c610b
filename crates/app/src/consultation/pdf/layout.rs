//! Page layout for PDF exports (C3). Layout first produces a display list (one `Vec<Op>` per A4
//! page) so the page count is known before drawing, then `render` draws it with krilla. Text uses
//! the bundled CJK font (WenQuanYi Micro Hei, Apache-2.0), which krilla subsets into the file with a
//! ToUnicode map, so Chinese text renders on any reader and stays searchable and copyable.

use std::sync::{Arc, LazyLock};

use krilla::{
    Document,
    color::rgb,
    geom::{PathBuilder, Point, Size, Transform},
    image::Image,
    metadata::Metadata,
    num::NormalizedF32,
    page::PageSettings,
    paint::{Fill, LineCap, LineJoin, Stroke},
    surface::Surface,
    text::{Font, TextDirection},
};
use skrifa::{
    FontRef, MetadataProvider,
    charmap::Charmap,
    instance::{LocationRef, Size as FontSize},
    metrics::GlyphMetrics,
};

use super::overlay;
use crate::AppError;

/// WenQuanYi Micro Hei 0.2.0-beta (Debian `fonts-wqy-microhei`), face 0 of the collection: it covers
/// the CJK Unified Ideographs (names use rare characters, so no GB2312-only subset) and Latin.
static FONT_DATA: &[u8] = include_bytes!("../../../assets/fonts/wqy-microhei.ttc");

pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
pub const MARGIN: f32 = 48.0;
const FOOTER_H: f32 = 28.0;
pub const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;

/// Colours as RGB bytes.
pub type Rgb = (u8, u8, u8);
pub const BLACK: Rgb = (26, 26, 26);
pub const GREY: Rgb = (102, 102, 102);
pub const ACCENT: Rgb = (11, 94, 140);
pub const LINE: Rgb = (200, 205, 210);
pub const SHADE: Rgb = (238, 243, 247);

/// Advance widths of the bundled font, for line breaking.
struct Measure {
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
}

static MEASURE: LazyLock<Option<Measure>> = LazyLock::new(|| {
    let font = FontRef::from_index(FONT_DATA, 0).ok()?;
    Some(Measure { charmap: font.charmap(), metrics: font.glyph_metrics(FontSize::new(1.0), LocationRef::default()) })
});

static FONT: LazyLock<Option<Font>> = LazyLock::new(|| Font::new(FONT_DATA.into(), 0));

/// Width of `text` at `size` points.
pub fn text_width(text: &str, size: f32) -> f32 {
    let Some(m) = MEASURE.as_ref() else { return 0.0 };
    text.chars()
        .map(|c| {
            let gid = m.charmap.map(c).unwrap_or_default();
            m.metrics.advance_width(gid).unwrap_or(0.5)
        })
        .sum::<f32>()
        * size
}

/// Characters that must not start a line (Chinese line-breaking rules, simplified).
fn no_break_before(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '》'
            | '”'
            | ','
            | '.'
            | ';'
            | ':'
            | ')'
            | '!'
            | '?'
    )
}

/// Whether a line may break between `a` and `b`: at spaces, and around CJK characters.
fn may_break(a: char, b: char) -> bool {
    if no_break_before(b) {
        return false;
    }
    a.is_whitespace() || !a.is_ascii() || !b.is_ascii() || matches!(a, '-' | '/')
}

/// Breaks `text` into lines no wider than `max_w` (explicit newlines are kept).
pub fn wrap(text: &str, size: f32, max_w: f32) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split('\n') {
        let para = para.trim_end_matches('\r');
        let mut line = String::new();
        let mut width = 0.0;
        // Byte offset in `line` after which a break is allowed.
        let mut last_break: Option<usize> = None;
        let mut prev: Option<char> = None;
        for ch in para.chars() {
            if let Some(p) = prev
                && may_break(p, ch)
            {
                last_break = Some(line.len());
            }
            let w = text_width(ch.encode_utf8(&mut [0; 4]), size);
            if width + w > max_w && !line.is_empty() {
                let cut = last_break.filter(|b| *b > 0).unwrap_or(line.len());
                let rest = line.split_off(cut);
                out.push(line.trim_end().to_owned());
                rest.trim_start().clone_into(&mut line);
                width = text_width(&line, size);
                last_break = None;
            }
            line.push(ch);
            width += w;
            prev = Some(ch);
        }
        out.push(line);
    }
    out
}

/// One drawing operation, in points from the page's top-left corner.
pub enum Op {
    /// Text with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        color: Rgb,
        text: String,
    },
    Rule {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Rgb,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    /// A vector drawing (a trend chart, D3) scaled into `w` × `h`.
    Svg {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        tree: Arc<usvg::Tree>,
    },
    /// A photo with the doctor's annotation drawn over it (A4).
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
        shapes: Arc<Vec<domain::annotation::Shape>>,
    },
}

/// A cursor over pages that adds a page whenever the next block does not fit.
pub struct Layout {
    pub pages: Vec<Vec<Op>>,
    pub y: f32,
}

impl Default for Layout {
    fn default() -> Self {
        Self { pages: vec![Vec::new()], y: MARGIN }
    }
}

impl Layout {
    const BOTTOM: f32 = PAGE_H - MARGIN - FOOTER_H;

    pub fn push(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Starts a new page unless `h` points still fit on this one.
    pub fn ensure(&mut self, h: f32) {
        if self.y + h > Self::BOTTOM && self.y > MARGIN {
            self.new_page();
        }
    }

    pub fn gap(&mut self, h: f32) {
        self.y += h;
    }

    /// Wrapped text at `x`, at most `w` wide, breaking pages between lines.
    pub fn text(&mut self, x: f32, w: f32, text: &str, size: f32, color: Rgb) {
        for line in wrap(text, size, w) {
            let lh = size * 1.5;
            self.ensure(lh);
            self.push(Op::Text { x, y: self.y + size * 1.1, size, color, text: line });
            self.y += lh;
        }
    }

    /// A section heading with a rule under it; kept together with the start of its content.
    pub fn heading(&mut self, text: &str) {
        self.ensure(60.0);
        self.gap(6.0);
        self.push(Op::Text { x: MARGIN, y: self.y + 13.0, size: 12.5, color: ACCENT, text: text.to_owned() });
        self.y += 19.0;
        let y = self.y;
        self.push(Op::Rule { x1: MARGIN, y1: y, x2: PAGE_W - MARGIN, y2: y, width: 0.6, color: LINE });
        self.y += 6.0;
    }

    /// A label and its value side by side (the header block).
    pub fn field(&mut self, label: &str, value: &str) {
        const LABEL_W: f32 = 150.0;
        let lines = wrap(value, 10.0, CONTENT_W - LABEL_W);
        self.ensure(15.0);
        let top = self.y;
        self.push(Op::Text { x: MARGIN, y: top + 11.0, size: 9.0, color: GREY, text: label.to_owned() });
        for line in lines {
            self.ensure(15.0);
            self.push(Op::Text { x: MARGIN + LABEL_W, y: self.y + 11.0, size: 10.0, color: BLACK, text: line });
            self.y += 15.0;
        }
    }

    /// A table with a shaded header row; cells wrap, rows are kept whole on a page.
    pub fn table(&mut self, x: f32, widths: &[f32], header: &[&str], rows: &[Vec<String>]) {
        const SIZE: f32 = 9.0;
        const LH: f32 = 13.0;
        let total: f32 = widths.iter().sum();
        let draw_row = |l: &mut Self, cells: &[String], shaded: bool| {
            let wrapped: Vec<Vec<String>> = cells.iter().zip(widths).map(|(c, w)| wrap(c, SIZE, w - 8.0)).collect();
            let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            #[expect(clippy::cast_precision_loss, reason = "a table row has a handful of lines")]
            let h = n as f32 * LH + 6.0;
            l.ensure(h);
            let top = l.y;
            if shaded {
                l.push(Op::Fill { x, y: top, w: total, h, color: SHADE });
            }
            let mut cx = x;
            for (lines, w) in wrapped.iter().zip(widths) {
                for (i, line) in lines.iter().enumerate() {
                    #[expect(clippy::cast_precision_loss, reason = "a table row has a handful of lines")]
                    let y = top + 3.0 + LH * (i as f32) + 10.0;
                    l.push(Op::Text { x: cx + 4.0, y, size: SIZE, color: BLACK, text: line.clone() });
                }
                cx += w;
            }
            l.y = top + h;
            l.push(Op::Rule { x1: x, y1: l.y, x2: x + total, y2: l.y, width: 0.4, color: LINE });
        };
        let head: Vec<String> = header.iter().map(|s| (*s).to_owned()).collect();
        draw_row(self, &head, true);
        for r in rows {
            draw_row(self, r, false);
        }
    }

    /// An SVG document (our own charts) across the content width, its text in the bundled font.
    pub fn svg(&mut self, svg: &str) {
        let Some(tree) = parse_svg(svg) else { return };
        let size = tree.size();
        let w = CONTENT_W;
        let h = w * size.height() / size.width();
        self.ensure(h + 6.0);
        let y = self.y;
        self.push(Op::Svg { x: MARGIN, y, w, h, tree: Arc::new(tree) });
        self.y += h + 6.0;
    }

    /// The size an image is drawn at: scaled to fit `max_w` × 340 points (`None` if empty).
    pub fn image_size(image: &Image, max_w: f32) -> Option<(f32, f32)> {
        let (pw, ph) = image.size();
        if pw == 0 || ph == 0 {
            return None;
        }
        #[expect(clippy::cast_precision_loss, reason = "image sizes are far below f32 precision limits")]
        let (pw, ph) = (pw as f32, ph as f32);
        let scale = (max_w / pw).min(340.0 / ph);
        Some((pw * scale, ph * scale))
    }

    /// An image with its annotation shapes (A4), fitted as by [`Layout::image_size`].
    pub fn image(&mut self, x: f32, max_w: f32, image: Image, shapes: Vec<domain::annotation::Shape>) {
        let Some((w, h)) = Self::image_size(&image, max_w) else { return };
        self.ensure(h + 4.0);
        let y = self.y;
        self.push(Op::Image { x, y, w, h, image, shapes: Arc::new(shapes) });
        self.y += h + 4.0;
    }
}

/// Fonts for SVG text: the bundled CJK font stands in for every family the charts name.
static SVG_FONTS: LazyLock<Arc<usvg::fontdb::Database>> = LazyLock::new(|| {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(FONT_DATA.to_vec());
    let family = db.faces().next().and_then(|f| f.families.first().map(|(name, _)| name.clone()));
    if let Some(family) = family {
        db.set_sans_serif_family(family.clone());
        db.set_serif_family(family);
    }
    Arc::new(db)
});

/// Parses one of our SVG documents (no external resources).
pub fn parse_svg(svg: &str) -> Option<usvg::Tree> {
    let opts = usvg::Options { fontdb: SVG_FONTS.clone(), ..usvg::Options::default() };
    usvg::Tree::from_str(svg, &opts).inspect_err(|e| tracing::warn!(error = %e, "chart not drawn into the pdf")).ok()
}

fn fill(color: Rgb) -> Fill {
    Fill { paint: rgb::Color::new(color.0, color.1, color.2).into(), ..Fill::default() }
}

pub(super) fn stroke(color: Rgb, width: f32) -> Stroke {
    Stroke {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        width,
        miter_limit: 4.0,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        opacity: NormalizedF32::ONE,
        dash: None,
    }
}

pub(super) fn draw_text(s: &mut Surface<'_>, x: f32, y: f32, size: f32, color: Rgb, text: &str, font: &Font) {
    s.set_stroke(None);
    s.set_fill(Some(fill(color)));
    s.draw_text(Point::from_xy(x, y), font.clone(), size, text, false, TextDirection::Auto);
}

fn draw_op(s: &mut Surface<'_>, op: Op, font: &Font) {
    match op {
        Op::Text { x, y, size, color, text } => draw_text(s, x, y, size, color, &text, font),
        Op::Rule { x1, y1, x2, y2, width, color } => {
            let mut pb = PathBuilder::new();
            pb.move_to(x1, y1);
            pb.line_to(x2, y2);
            if let Some(path) = pb.finish() {
                s.set_fill(None);
                s.set_stroke(Some(stroke(color, width)));
                s.draw_path(&path);
            }
        }
        Op::Fill { x, y, w, h, color } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = krilla::geom::Rect::from_xywh(x, y, w, h) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                s.set_stroke(None);
                s.set_fill(Some(fill(color)));
                s.draw_path(&path);
            }
        }
        Op::Svg { x, y, w, h, tree } => {
            if let Some(size) = Size::from_wh(w, h) {
                s.push_transform(&Transform::from_translate(x, y));
                krilla_svg::SurfaceExt::draw_svg(s, &tree, size, krilla_svg::SvgSettings::default());
                s.pop();
            }
        }
        Op::Image { x, y, w, h, image, shapes } => {
            if let Some(size) = Size::from_wh(w, h) {
                s.push_transform(&Transform::from_translate(x, y));
                s.draw_image(image, size);
                s.pop();
            }
            overlay::draw(s, font, x, y, w, h, &shapes);
        }
    }
}

/// Draws the pages with a footer (`footer` left, page numbers right) and returns the PDF bytes.
pub fn render(pages: Vec<Vec<Op>>, title: &str, footer: &str) -> Result<Vec<u8>, AppError> {
    let font = FONT.as_ref().ok_or(AppError::Internal("pdf font"))?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new().title(title.to_owned()).creator("Yiqiao 医桥".to_owned()).language("zh-CN".to_owned()),
    );
    let total = pages.len();
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(AppError::Internal("pdf page size"))?;
    for (i, ops) in pages.into_iter().enumerate() {
        let mut page = doc.start_page_with(settings.clone());
        let mut s = page.surface();
        for op in ops {
            draw_op(&mut s, op, font);
        }
        let fy = PAGE_H - MARGIN + 6.0;
        draw_op(
            &mut s,
            Op::Rule { x1: MARGIN, y1: fy - 12.0, x2: PAGE_W - MARGIN, y2: fy - 12.0, width: 0.4, color: LINE },
            font,
        );
        draw_text(&mut s, MARGIN, fy, 8.0, GREY, footer, font);
        let num = format!("{} / {}", i + 1, total);
        draw_text(&mut s, PAGE_W - MARGIN - text_width(&num, 8.0), fy, 8.0, GREY, &num, font);
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| {
        tracing::error!(error = ?e, "pdf serialisation failed");
        AppError::Internal("pdf")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_covers_chinese_and_latin() {
        assert!(FONT.is_some());
        let m = MEASURE.as_ref().unwrap();
        for c in ['医', '桥', '喆', '堃', 'A', '7', '：'] {
            assert!(m.charmap.map(c).is_some(), "no glyph for {c}");
        }
        // CJK characters are full-width, Latin ones narrower.
        assert!((text_width("医", 10.0) - 10.0).abs() < 0.5);
        assert!(text_width("i", 10.0) < 5.0);
    }

    #[test]
    fn lines_break_between_chinese_characters_and_at_spaces() {
        let lines = wrap("患者自述头痛三天，伴有恶心。", 10.0, 60.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, 10.0) <= 60.0 + 0.01));
        assert_eq!(lines.concat(), "患者自述头痛三天，伴有恶心。");
        // Punctuation never starts a line.
        assert!(lines.iter().all(|l| !l.starts_with('，') && !l.starts_with('。')));
        let latin = wrap("blood pressure measured twice daily", 10.0, 80.0);
        assert!(latin.iter().all(|l| !l.starts_with(' ') && !l.ends_with(' ')));
        assert_eq!(latin.join(" "), "blood pressure measured twice daily");
        assert_eq!(wrap("a\nb", 10.0, 100.0), vec!["a", "b"]);
    }
}
