//! Readings from devices and from patients' own hands (D1–D5): the kinds a follow-up plan measures
//! with their LOINC codes, unit normalisation (glucose mg/dL → mmol/L, kPa → mmHg, lb → kg),
//! plausibility limits (an implausible value is refused with a clear error, never stored), and the
//! alert rules a reading is checked against (thresholds and "three readings above target in a week").
//!
//! Everything is stored in one canonical unit per kind: mmHg, mmol/L, kg, /min, %.

use std::collections::BTreeMap;

use thiserror::Error;

string_enum! {
    /// What a reading measures.
    pub enum ReadingKind ("reading kind") {
        BloodPressure => "blood-pressure",
        Glucose => "glucose",
        Weight => "weight",
        HeartRate => "heart-rate",
        Spo2 => "spo2",
    }
}

impl ReadingKind {
    /// The LOINC code the reading is stored and exported under (FHIR `Observation.code`).
    pub const fn loinc(self) -> &'static str {
        match self {
            // Blood pressure panel with all children optional; components 8480-6 / 8462-4.
            Self::BloodPressure => "85354-9",
            // Glucose [Moles/volume] in Blood.
            Self::Glucose => "15074-8",
            Self::Weight => "29463-7",
            Self::HeartRate => "8867-4",
            // Oxygen saturation in Arterial blood by Pulse oximetry.
            Self::Spo2 => "59408-5",
        }
    }

    /// The kind a LOINC code (of the kind itself or of a component) stands for.
    pub fn from_loinc(code: &str) -> Option<Self> {
        Some(match code {
            "85354-9" | "55284-4" | "8480-6" | "8462-4" => Self::BloodPressure,
            "15074-8" | "2339-0" | "2345-7" | "41653-7" | "1558-6" | "14743-9" => Self::Glucose,
            "29463-7" | "3141-9" => Self::Weight,
            "8867-4" => Self::HeartRate,
            "59408-5" | "2708-6" => Self::Spo2,
            _ => return None,
        })
    }

    /// The canonical unit (UCUM).
    pub const fn unit(self) -> &'static str {
        match self {
            Self::BloodPressure => "mm[Hg]",
            Self::Glucose => "mmol/L",
            Self::Weight => "kg",
            Self::HeartRate => "/min",
            Self::Spo2 => "%",
        }
    }
}

/// LOINC components of a blood-pressure panel.
pub const LOINC_SYSTOLIC: &str = "8480-6";
pub const LOINC_DIASTOLIC: &str = "8462-4";

/// mg/dL per mmol/L of glucose (molar mass 180.16 g/mol).
pub const GLUCOSE_MG_DL_PER_MMOL_L: f64 = 18.016;

string_enum! {
    /// When a glucose value was measured relative to a meal.
    pub enum GlucoseContext ("glucose context") {
        Fasting => "fasting",
        PostMeal => "post-meal",
        Random => "random",
    }
}

/// Why a reading was refused. Codes are stable; messages never echo the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReadingError {
    #[error("unknown reading type")]
    UnknownKind,
    #[error("a value is missing: {0}")]
    MissingValue(&'static str),
    #[error("unknown unit for this reading type")]
    UnknownUnit,
    #[error("implausible value: {0}")]
    Implausible(&'static str),
}

impl ReadingError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::UnknownKind => "reading_type",
            Self::MissingValue(_) => "reading_value_missing",
            Self::UnknownUnit => "reading_unit",
            Self::Implausible(_) => "reading_implausible",
        }
    }
}

/// A reading in canonical units, ready to store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub kind: ReadingKind,
    /// Canonical values by name: `systolic`/`diastolic`(/`pulse`) mmHg, `glucose` mmol/L, `weight`
    /// kg, `heart_rate` /min, `spo2` %.
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<GlucoseContext>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn take(values: &BTreeMap<String, f64>, names: &[&'static str]) -> Result<f64, ReadingError> {
    names
        .iter()
        .find_map(|n| values.get(*n).copied())
        .filter(|v| v.is_finite())
        .ok_or(ReadingError::MissingValue(names[0]))
}

fn within(v: f64, lo: f64, hi: f64, what: &'static str) -> Result<f64, ReadingError> {
    if (lo..=hi).contains(&v) { Ok(v) } else { Err(ReadingError::Implausible(what)) }
}

impl Reading {
    /// Normalises values given in `unit` (case-insensitive; UCUM or everyday spellings) and checks
    /// they are physiologically plausible.
    pub fn normalize(
        kind: ReadingKind,
        values: &BTreeMap<String, f64>,
        unit: &str,
        context: Option<GlucoseContext>,
    ) -> Result<Self, ReadingError> {
        let unit = unit.trim().to_ascii_lowercase().replace(' ', "");
        let mut out = BTreeMap::new();
        match kind {
            ReadingKind::BloodPressure => {
                let factor = match unit.as_str() {
                    "mmhg" | "mm[hg]" | "" => 1.0,
                    "kpa" => 7.500_62,
                    _ => return Err(ReadingError::UnknownUnit),
                };
                let sys = within(round1(take(values, &["systolic"])? * factor), 40.0, 300.0, "systolic")?;
                let dia = within(round1(take(values, &["diastolic"])? * factor), 20.0, 200.0, "diastolic")?;
                if dia >= sys {
                    return Err(ReadingError::Implausible("diastolic"));
                }
                out.insert("systolic".into(), sys);
                out.insert("diastolic".into(), dia);
                if let Ok(pulse) = take(values, &["pulse", "heart_rate"]) {
                    out.insert("pulse".into(), within(pulse.round(), 20.0, 300.0, "pulse")?);
                }
            }
            ReadingKind::Glucose => {
                let v = take(values, &["glucose", "value"])?;
                let mmol = match unit.as_str() {
                    "mmol/l" => v,
                    "mg/dl" => v / GLUCOSE_MG_DL_PER_MMOL_L,
                    _ => return Err(ReadingError::UnknownUnit),
                };
                out.insert("glucose".into(), within(round1(mmol), 0.5, 40.0, "glucose")?);
            }
            ReadingKind::Weight => {
                let v = take(values, &["weight", "value"])?;
                let kg = match unit.as_str() {
                    "kg" => v,
                    "g" => v / 1000.0,
                    "lb" | "[lb_av]" | "lbs" => v * 0.453_592_37,
                    _ => return Err(ReadingError::UnknownUnit),
                };
                out.insert("weight".into(), within(round1(kg), 0.5, 400.0, "weight")?);
            }
            ReadingKind::HeartRate => {
                if !matches!(unit.as_str(), "/min" | "bpm" | "beats/min" | "{beats}/min" | "") {
                    return Err(ReadingError::UnknownUnit);
                }
                let v = take(values, &["heart_rate", "value", "pulse"])?;
                out.insert("heart_rate".into(), within(v.round(), 20.0, 300.0, "heart_rate")?);
            }
            ReadingKind::Spo2 => {
                if !matches!(unit.as_str(), "%" | "") {
                    return Err(ReadingError::UnknownUnit);
                }
                let v = take(values, &["spo2", "value"])?;
                out.insert("spo2".into(), within(v.round(), 50.0, 100.0, "spo2")?);
            }
        }
        Ok(Self { kind, values: out, context: if kind == ReadingKind::Glucose { context } else { None } })
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    /// "150/95 mmHg", "6.2 mmol/L (fasting)".
    pub fn summary(&self) -> String {
        let v = |n: &str| self.value(n).unwrap_or_default();
        match self.kind {
            ReadingKind::BloodPressure => format!("{}/{} mmHg", v("systolic"), v("diastolic")),
            ReadingKind::Glucose => match self.context {
                Some(c) => format!("{} mmol/L ({c})", v("glucose")),
                None => format!("{} mmol/L", v("glucose")),
            },
            ReadingKind::Weight => format!("{} kg", v("weight")),
            ReadingKind::HeartRate => format!("{} /min", v("heart_rate")),
            ReadingKind::Spo2 => format!("{} %", v("spo2")),
        }
    }
}

string_enum! {
    /// How much an abnormal reading matters: `urgent` alerts ignore quiet hours and escalate when
    /// nobody acknowledges them.
    pub enum Severity ("alert severity") {
        Warning => "warning",
        Urgent => "urgent",
    }
}

/// A plan's alert thresholds (D4), in canonical units. Defaults follow the Chinese hypertension
/// (2018) and type 2 diabetes (2020) guidelines.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// Target: below these (mmHg).
    pub systolic_target: f64,
    pub diastolic_target: f64,
    /// Urgent at or above these (mmHg): hypertensive urgency.
    pub systolic_urgent: f64,
    pub diastolic_urgent: f64,
    /// Urgent below this (mmol/L): hypoglycaemia.
    pub glucose_low_urgent: f64,
    /// Urgent at or above this (mmol/L).
    pub glucose_high_urgent: f64,
    /// Target: fasting below, post-meal/random below (mmol/L).
    pub glucose_fasting_target: f64,
    pub glucose_post_meal_target: f64,
    /// Urgent below this SpO2 (%).
    pub spo2_urgent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            systolic_target: 140.0,
            diastolic_target: 90.0,
            systolic_urgent: 180.0,
            diastolic_urgent: 110.0,
            glucose_low_urgent: 3.9,
            glucose_high_urgent: 16.7,
            glucose_fasting_target: 7.0,
            glucose_post_meal_target: 10.0,
            spo2_urgent: 90.0,
        }
    }
}

/// Why a reading raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule code: `bp_urgent`, `glucose_low`, `glucose_high`, `spo2_low`, `above_target_trend`.
    pub rule: &'static str,
}

impl Thresholds {
    /// Whether a reading is above the plan's target (counts toward the trend rule).
    pub fn above_target(&self, r: &Reading) -> bool {
        let v = |n: &str| r.value(n).unwrap_or_default();
        match r.kind {
            ReadingKind::BloodPressure => {
                v("systolic") >= self.systolic_target || v("diastolic") >= self.diastolic_target
            }
            ReadingKind::Glucose => {
                let target = if r.context == Some(GlucoseContext::Fasting) {
                    self.glucose_fasting_target
                } else {
                    self.glucose_post_meal_target
                };
                v("glucose") >= target
            }
            _ => false,
        }
    }

    /// The threshold rules (urgent values). `recent_above` is how many earlier readings of the same
    /// kind in the last 7 days were above target: the third one in a week raises a trend warning.
    pub fn check(&self, r: &Reading, recent_above: usize) -> Option<Finding> {
        let v = |n: &str| r.value(n).unwrap_or_default();
        let urgent = |rule| Some(Finding { severity: Severity::Urgent, rule });
        match r.kind {
            ReadingKind::BloodPressure
                if v("systolic") >= self.systolic_urgent || v("diastolic") >= self.diastolic_urgent =>
            {
                return urgent("bp_urgent");
            }
            ReadingKind::Glucose if v("glucose") < self.glucose_low_urgent => return urgent("glucose_low"),
            ReadingKind::Glucose if v("glucose") >= self.glucose_high_urgent => return urgent("glucose_high"),
            ReadingKind::Spo2 if v("spo2") < self.spo2_urgent => return urgent("spo2_low"),
            _ => {}
        }
        (self.above_target(r) && recent_above >= 2)
            .then_some(Finding { severity: Severity::Warning, rule: "above_target_trend" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn glucose_in_mg_dl_is_stored_in_mmol_l() {
        let r = Reading::normalize(ReadingKind::Glucose, &vals(&[("value", 126.0)]), "mg/dL", None).unwrap();
        assert_eq!(r.value("glucose"), Some(7.0));
        let r = Reading::normalize(ReadingKind::Glucose, &vals(&[("glucose", 5.6)]), "mmol/L", None).unwrap();
        assert_eq!(r.value("glucose"), Some(5.6));
        assert_eq!(
            Reading::normalize(ReadingKind::Glucose, &vals(&[("glucose", 5.6)]), "g/L", None),
            Err(ReadingError::UnknownUnit)
        );
    }

    #[test]
    fn blood_pressure_in_kpa_and_implausible_values() {
        let r = Reading::normalize(
            ReadingKind::BloodPressure,
            &vals(&[("systolic", 20.0), ("diastolic", 12.0)]),
            "kPa",
            None,
        )
        .unwrap();
        assert_eq!((r.value("systolic"), r.value("diastolic")), (Some(150.0), Some(90.0)));
        let bad = |s, d| {
            Reading::normalize(ReadingKind::BloodPressure, &vals(&[("systolic", s), ("diastolic", d)]), "mmHg", None)
        };
        assert_eq!(bad(400.0, 90.0).unwrap_err().code(), "reading_implausible");
        assert_eq!(bad(80.0, 120.0).unwrap_err(), ReadingError::Implausible("diastolic"));
        assert_eq!(
            Reading::normalize(ReadingKind::BloodPressure, &vals(&[("systolic", 120.0)]), "mmHg", None),
            Err(ReadingError::MissingValue("diastolic"))
        );
        assert_eq!(bad(f64::NAN, 80.0).unwrap_err(), ReadingError::MissingValue("systolic"));
    }

    #[test]
    fn thresholds_follow_the_guidelines() {
        let t = Thresholds::default();
        let bp = |s, d| {
            Reading::normalize(ReadingKind::BloodPressure, &vals(&[("systolic", s), ("diastolic", d)]), "mmHg", None)
                .unwrap()
        };
        assert_eq!(t.check(&bp(182.0, 100.0), 0).map(|f| (f.severity, f.rule)), Some((Severity::Urgent, "bp_urgent")));
        assert_eq!(t.check(&bp(150.0, 110.0), 0).map(|f| f.rule), Some("bp_urgent"));
        assert_eq!(t.check(&bp(150.0, 95.0), 0), None, "above target once: no alert");
        assert_eq!(t.check(&bp(150.0, 95.0), 1), None, "twice: no alert");
        assert_eq!(
            t.check(&bp(150.0, 95.0), 2).map(|f| (f.severity, f.rule)),
            Some((Severity::Warning, "above_target_trend"))
        );
        assert_eq!(t.check(&bp(120.0, 80.0), 5), None, "in range never alerts");
        let low = Reading::normalize(ReadingKind::Glucose, &vals(&[("glucose", 3.8)]), "mmol/L", None).unwrap();
        assert_eq!(t.check(&low, 0).map(|f| f.rule), Some("glucose_low"));
        let fasting = Reading::normalize(
            ReadingKind::Glucose,
            &vals(&[("glucose", 7.5)]),
            "mmol/L",
            Some(GlucoseContext::Fasting),
        )
        .unwrap();
        assert!(t.above_target(&fasting));
        let after_meal = Reading::normalize(
            ReadingKind::Glucose,
            &vals(&[("glucose", 7.5)]),
            "mmol/L",
            Some(GlucoseContext::PostMeal),
        )
        .unwrap();
        assert!(!t.above_target(&after_meal));
    }

    #[test]
    fn loinc_codes_round_trip() {
        for k in ReadingKind::ALL {
            assert_eq!(ReadingKind::from_loinc(k.loinc()), Some(k));
        }
        assert_eq!(ReadingKind::from_loinc(LOINC_SYSTOLIC), Some(ReadingKind::BloodPressure));
        assert_eq!(ReadingKind::from_loinc("0000-0"), None);
    }
}
