//! Image annotation (A4): the doctor marks a lesion on a photo or report with circles, arrows, free
//! lines and text labels. Shapes are stored in normalised coordinates (0–1 of the image's width and
//! height) beside the untouched original, so they scale to any screen and are never burned in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    Circle { x: f64, y: f64, r: f64 },
    Arrow { x1: f64, y1: f64, x2: f64, y2: f64 },
    Line { points: Vec<[f64; 2]> },
    Text { x: f64, y: f64, text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum AnnotationError {
    TooMany,
    Invalid,
}

impl AnnotationError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooMany => "annotation_too_large",
            Self::Invalid => "annotation_invalid",
        }
    }

    pub const fn message(self) -> &'static str {
        match self {
            Self::TooMany => "Keep an annotation to at most 100 shapes (and 500 points per line).",
            Self::Invalid => "A shape lies outside the image or has an empty label.",
        }
    }
}

fn unit(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

/// Checks every shape: coordinates within the image, sane sizes, short non-empty labels.
pub fn validate_shapes(shapes: &[Shape]) -> Result<(), AnnotationError> {
    if shapes.len() > 100 {
        return Err(AnnotationError::TooMany);
    }
    for s in shapes {
        let ok = match s {
            Shape::Circle { x, y, r } => unit(*x) && unit(*y) && r.is_finite() && *r > 0.0 && *r <= 1.0,
            Shape::Arrow { x1, y1, x2, y2 } => [x1, y1, x2, y2].iter().all(|v| unit(**v)),
            Shape::Line { points } => {
                if points.len() > 500 {
                    return Err(AnnotationError::TooMany);
                }
                points.len() >= 2 && points.iter().all(|[x, y]| unit(*x) && unit(*y))
            }
            Shape::Text { x, y, text } => unit(*x) && unit(*y) && (1..=100).contains(&text.trim().chars().count()),
        };
        if !ok {
            return Err(AnnotationError::Invalid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_inside_the_image_are_accepted() {
        let shapes = vec![
            Shape::Circle { x: 0.5, y: 0.5, r: 0.1 },
            Shape::Arrow { x1: 0.1, y1: 0.1, x2: 0.4, y2: 0.45 },
            Shape::Line { points: vec![[0.2, 0.2], [0.3, 0.25], [0.35, 0.3]] },
            Shape::Text { x: 0.6, y: 0.6, text: "病灶".into() },
        ];
        assert!(validate_shapes(&shapes).is_ok());
        let json = serde_json::to_string(&shapes[0]).unwrap();
        assert_eq!(json, r#"{"type":"circle","x":0.5,"y":0.5,"r":0.1}"#);
    }

    #[test]
    fn shapes_outside_or_empty_are_refused() {
        assert_eq!(validate_shapes(&[Shape::Circle { x: 1.5, y: 0.5, r: 0.1 }]), Err(AnnotationError::Invalid));
        assert_eq!(validate_shapes(&[Shape::Circle { x: 0.5, y: 0.5, r: f64::NAN }]), Err(AnnotationError::Invalid));
        assert_eq!(validate_shapes(&[Shape::Line { points: vec![[0.1, 0.1]] }]), Err(AnnotationError::Invalid));
        assert_eq!(validate_shapes(&[Shape::Text { x: 0.1, y: 0.1, text: " ".into() }]), Err(AnnotationError::Invalid));
        let many = vec![Shape::Circle { x: 0.5, y: 0.5, r: 0.1 }; 101];
        assert_eq!(validate_shapes(&many), Err(AnnotationError::TooMany));
    }
}
