//! The doctor's annotation (A4) drawn as PDF vector paths over an exported image (C3). Shapes are
//! stored in 0–1 coordinates of the image's width and height; they are mapped onto the image's box
//! on the page exactly as the browser overlay maps them (a circle's radius is a fraction of the
//! width), so the PDF shows what the patient saw on screen.

use krilla::{geom::PathBuilder, surface::Surface, text::Font};

use domain::annotation::Shape;

use super::layout::{Rgb, draw_text, stroke, text_width};

/// The overlay colour of the web view (`#e0241b`).
const RED: Rgb = (224, 36, 27);
const WHITE: Rgb = (255, 255, 255);

/// Bézier control distance for a quarter circle.
const KAPPA: f32 = 0.552_284_8;

/// One path segment in page coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seg {
    Move(f32, f32),
    Line(f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
}

fn ellipse(out: &mut Vec<Seg>, cx: f32, cy: f32, rx: f32, ry: f32) {
    let (kx, ky) = (rx * KAPPA, ry * KAPPA);
    out.push(Seg::Move(cx + rx, cy));
    out.push(Seg::Cubic(cx + rx, cy + ky, cx + kx, cy + ry, cx, cy + ry));
    out.push(Seg::Cubic(cx - kx, cy + ry, cx - rx, cy + ky, cx - rx, cy));
    out.push(Seg::Cubic(cx - rx, cy - ky, cx - kx, cy - ry, cx, cy - ry));
    out.push(Seg::Cubic(cx + kx, cy - ry, cx + rx, cy - ky, cx + rx, cy));
}

/// The outline of one shape in page coordinates (empty for text labels, which are drawn as text).
#[expect(clippy::cast_possible_truncation, reason = "normalised coordinates map onto a page a few hundred points wide")]
fn segments(shape: &Shape, x: f32, y: f32, w: f32, h: f32) -> Vec<Seg> {
    let at = |px: f64, py: f64| (x + px as f32 * w, y + py as f32 * h);
    let mut out = Vec::new();
    match shape {
        Shape::Circle { x: cx, y: cy, r } => {
            let (px, py) = at(*cx, *cy);
            let radius = *r as f32 * w;
            ellipse(&mut out, px, py, radius, radius);
        }
        Shape::Arrow { x1, y1, x2, y2 } => {
            let (ax, ay) = at(*x1, *y1);
            let (bx, by) = at(*x2, *y2);
            out.push(Seg::Move(ax, ay));
            out.push(Seg::Line(bx, by));
            let angle = (by - ay).atan2(bx - ax);
            let len = (w.max(h) * 0.05).clamp(6.0, 14.0);
            for d in [0.5_f32, -0.5] {
                out.push(Seg::Move(bx, by));
                out.push(Seg::Line(bx - len * (angle + d).cos(), by - len * (angle + d).sin()));
            }
        }
        Shape::Line { points } => {
            for (i, [px, py]) in points.iter().enumerate() {
                let (px, py) = at(*px, *py);
                out.push(if i == 0 { Seg::Move(px, py) } else { Seg::Line(px, py) });
            }
        }
        Shape::Text { .. } => {}
    }
    out
}

fn to_path(segs: &[Seg]) -> Option<krilla::geom::Path> {
    let mut pb = PathBuilder::new();
    for s in segs {
        match *s {
            Seg::Move(x, y) => pb.move_to(x, y),
            Seg::Line(x, y) => pb.line_to(x, y),
            Seg::Cubic(x1, y1, x2, y2, x, y) => pb.cubic_to(x1, y1, x2, y2, x, y),
        }
    }
    pb.finish()
}

/// Draws `shapes` over the image placed at `x`, `y` with size `w` × `h`.
#[expect(clippy::cast_possible_truncation, reason = "normalised coordinates map onto a page a few hundred points wide")]
pub fn draw(s: &mut Surface<'_>, font: &Font, x: f32, y: f32, w: f32, h: f32, shapes: &[Shape]) {
    let width = (w.max(h) / 250.0).clamp(1.2, 2.5);
    for shape in shapes {
        if let Shape::Text { x: tx, y: ty, text } = shape {
            let size = (h * 0.048).clamp(7.0, 16.0);
            let (px, py) = (x + *tx as f32 * w, y + *ty as f32 * h);
            // Keep the label inside the image, as the browser clips it to the picture.
            let px = px.min(x + w - text_width(text, size)).max(x);
            // A white halo keeps the label readable on any photo.
            s.set_fill(None);
            s.set_stroke(Some(stroke(WHITE, size / 6.0)));
            s.draw_text(
                krilla::geom::Point::from_xy(px, py),
                font.clone(),
                size,
                text,
                true,
                krilla::text::TextDirection::Auto,
            );
            draw_text(s, px, py, size, RED, text, font);
        } else if let Some(path) = to_path(&segments(shape, x, y, w, h)) {
            s.set_fill(None);
            s.set_stroke(Some(stroke(RED, width)));
            s.draw_path(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Left, top, right, bottom of every point of the outline (control points included).
    fn bounds(segs: &[Seg]) -> (f32, f32, f32, f32) {
        let pts = segs.iter().flat_map(|s| match *s {
            Seg::Move(x, y) | Seg::Line(x, y) => vec![(x, y)],
            Seg::Cubic(a, b, c, d, e, f) => vec![(a, b), (c, d), (e, f)],
        });
        pts.fold((f32::MAX, f32::MAX, f32::MIN, f32::MIN), |(l, t, r, b), (x, y)| {
            (l.min(x), t.min(y), r.max(x), b.max(y))
        })
    }

    fn near(a: f32, b: f32) -> bool {
        (a - b).abs() < 0.01
    }

    #[test]
    fn shapes_map_onto_the_image_box() {
        // Centre (250, 275); the radius is 0.1 of the width = 30 points in both directions.
        let (l, t, r, b) = bounds(&segments(&Shape::Circle { x: 0.5, y: 0.5, r: 0.1 }, 100.0, 200.0, 300.0, 150.0));
        assert!(near(l, 220.0) && near(r, 280.0) && near(t, 245.0) && near(b, 305.0), "{l} {t} {r} {b}");
        let line = segments(&Shape::Line { points: vec![[0.0, 0.0], [1.0, 1.0]] }, 10.0, 20.0, 100.0, 50.0);
        assert_eq!(line, vec![Seg::Move(10.0, 20.0), Seg::Line(110.0, 70.0)]);
        // The arrow head points back from the tip at (100, 50), on both sides of the shaft.
        let (_, t, r, b) =
            bounds(&segments(&Shape::Arrow { x1: 0.0, y1: 0.5, x2: 1.0, y2: 0.5 }, 0.0, 0.0, 100.0, 100.0));
        assert!(near(r, 100.0) && t < 50.0 && b > 50.0);
        assert!(segments(&Shape::Text { x: 0.1, y: 0.1, text: "病灶".into() }, 0.0, 0.0, 1.0, 1.0).is_empty());
        assert!(to_path(&[]).is_none());
    }
}
