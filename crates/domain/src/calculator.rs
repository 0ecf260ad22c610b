//! Clinical calculators whose results a doctor sends as a message card (A6): the server computes
//! from the inputs (a client's number is never trusted), and the card keeps the inputs, the result,
//! its band with Chinese and English names, and the basis, so the patient sees the same as the doctor.
//!
//! - BMI with the Chinese adult bands of WS/T 428-2013 (24 / 28, not the WHO 25 / 30).
//! - eGFR by the race-free CKD-EPI 2021 creatinine equation, KDIGO G-stages.
//! - Blood pressure grade by the Chinese Guidelines for the Management of Hypertension (2018).
//! - Due date by Naegele's rule (last menstrual period + 280 days) with today's gestational age.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// What the doctor enters, tagged by calculator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "calculator", rename_all = "snake_case")]
pub enum CalcInput {
    Bmi { height_cm: f64, weight_kg: f64 },
    Egfr { creatinine_umol_l: f64, age_years: f64, female: bool },
    BloodPressure { systolic: f64, diastolic: f64 },
    DueDate { last_period: NaiveDate },
}

/// One input as the card shows it: a label key (`calc.field.<key>`) and the value with its unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalcField {
    pub key: String,
    pub value: String,
}

/// The card: what was entered, what came out and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculatorCard {
    /// `bmi`, `egfr`, `blood_pressure`, `due_date`.
    pub calculator: String,
    pub inputs: Vec<CalcField>,
    pub value: String,
    pub unit: String,
    /// A stable code for the band (e.g. `overweight`, `g3a`, `grade_2`).
    pub band: String,
    pub band_zh: String,
    pub band_en: String,
    /// Whether the band calls for attention (shown highlighted).
    pub alert: bool,
    /// The formula or guideline the result follows.
    pub basis: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum CalcError {
    OutOfRange,
}

impl CalcError {
    pub const fn code(self) -> &'static str {
        "calc_input_invalid"
    }

    pub const fn message(self) -> &'static str {
        "A value is missing or outside the range a person can have; check the units."
    }
}

/// The calculators a doctor can choose from, in menu order.
pub const CALCULATORS: [&str; 4] = ["bmi", "egfr", "blood_pressure", "due_date"];

fn within(v: f64, lo: f64, hi: f64) -> Result<f64, CalcError> {
    if v.is_finite() && (lo..=hi).contains(&v) { Ok(v) } else { Err(CalcError::OutOfRange) }
}

fn field(key: &str, value: String) -> CalcField {
    CalcField { key: key.into(), value }
}

impl CalcInput {
    /// Computes the card; `today` is the clinic's date (for gestational age).
    pub fn compute(&self, today: NaiveDate) -> Result<CalculatorCard, CalcError> {
        match *self {
            Self::Bmi { height_cm, weight_kg } => {
                Ok(bmi(within(height_cm, 50.0, 250.0)?, within(weight_kg, 2.0, 400.0)?))
            }
            Self::Egfr { creatinine_umol_l, age_years, female } => {
                Ok(egfr(within(creatinine_umol_l, 10.0, 3000.0)?, within(age_years, 18.0, 120.0)?, female))
            }
            Self::BloodPressure { systolic, diastolic } => {
                let (s, d) = (within(systolic, 50.0, 300.0)?, within(diastolic, 30.0, 200.0)?);
                if d >= s {
                    return Err(CalcError::OutOfRange);
                }
                Ok(blood_pressure(s, d))
            }
            Self::DueDate { last_period } => due_date(last_period, today),
        }
    }
}

fn card(
    calculator: &str,
    inputs: Vec<CalcField>,
    value: String,
    unit: &str,
    band: (&str, &str, &str, bool),
    basis: &str,
) -> CalculatorCard {
    CalculatorCard {
        calculator: calculator.into(),
        inputs,
        value,
        unit: unit.into(),
        band: band.0.into(),
        band_zh: band.1.into(),
        band_en: band.2.into(),
        alert: band.3,
        basis: basis.into(),
    }
}

fn bmi(height_cm: f64, weight_kg: f64) -> CalculatorCard {
    let m = height_cm / 100.0;
    let v = weight_kg / (m * m);
    let band = match v {
        v if v < 18.5 => ("underweight", "体重过低", "Underweight", true),
        v if v < 24.0 => ("normal", "体重正常", "Normal weight", false),
        v if v < 28.0 => ("overweight", "超重", "Overweight", true),
        _ => ("obese", "肥胖", "Obese", true),
    };
    card(
        "bmi",
        vec![field("height", format!("{height_cm:.0} cm")), field("weight", format!("{weight_kg:.1} kg"))],
        format!("{v:.1}"),
        "kg/m²",
        band,
        "WS/T 428-2013",
    )
}

/// CKD-EPI 2021: 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 (female),
/// Scr in mg/dL (µmol/L ÷ 88.4); κ 0.7 / 0.9 and α −0.241 / −0.302 for women / men.
fn egfr(creatinine_umol_l: f64, age: f64, female: bool) -> CalculatorCard {
    let scr = creatinine_umol_l / 88.4;
    let (kappa, alpha, factor) = if female { (0.7, -0.241, 1.012) } else { (0.9, -0.302, 1.0) };
    let r = scr / kappa;
    let v = 142.0 * r.min(1.0).powf(alpha) * r.max(1.0).powf(-1.2) * 0.9938_f64.powf(age) * factor;
    let band = match v {
        v if v >= 90.0 => ("g1", "G1 正常或升高", "G1 normal or high", false),
        v if v >= 60.0 => ("g2", "G2 轻度下降", "G2 mildly decreased", false),
        v if v >= 45.0 => ("g3a", "G3a 轻到中度下降", "G3a mildly to moderately decreased", true),
        v if v >= 30.0 => ("g3b", "G3b 中到重度下降", "G3b moderately to severely decreased", true),
        v if v >= 15.0 => ("g4", "G4 重度下降", "G4 severely decreased", true),
        _ => ("g5", "G5 肾衰竭", "G5 kidney failure", true),
    };
    let sex = if female { "female" } else { "male" };
    card(
        "egfr",
        vec![
            field("creatinine", format!("{creatinine_umol_l:.0} µmol/L")),
            field("age", format!("{age:.0}")),
            field("sex", sex.into()),
        ],
        format!("{v:.0}"),
        "mL/min/1.73m²",
        band,
        "CKD-EPI 2021; KDIGO",
    )
}

/// The higher of the systolic and diastolic categories decides (Chinese guideline 2018).
fn blood_pressure(s: f64, d: f64) -> CalculatorCard {
    const BANDS: [(&str, &str, &str, bool); 5] = [
        ("normal", "正常血压", "Normal", false),
        ("high_normal", "正常高值", "High-normal", false),
        ("grade_1", "1级高血压（轻度）", "Grade 1 hypertension (mild)", true),
        ("grade_2", "2级高血压（中度）", "Grade 2 hypertension (moderate)", true),
        ("grade_3", "3级高血压（重度）", "Grade 3 hypertension (severe)", true),
    ];
    let level = |v: f64, cuts: [f64; 4]| cuts.iter().filter(|c| v >= **c).count();
    let i = level(s, [120.0, 140.0, 160.0, 180.0]).max(level(d, [80.0, 90.0, 100.0, 110.0]));
    let mut band = BANDS[i];
    if i >= 2 && s >= 140.0 && d < 90.0 {
        band = ("isolated_systolic", "单纯收缩期高血压", "Isolated systolic hypertension", true);
    }
    card(
        "blood_pressure",
        vec![field("systolic", format!("{s:.0} mmHg")), field("diastolic", format!("{d:.0} mmHg"))],
        format!("{s:.0}/{d:.0}"),
        "mmHg",
        band,
        "中国高血压防治指南 2018",
    )
}

fn due_date(lmp: NaiveDate, today: NaiveDate) -> Result<CalculatorCard, CalcError> {
    let days = (today - lmp).num_days();
    if !(0..=300).contains(&days) {
        return Err(CalcError::OutOfRange);
    }
    let due = lmp + Duration::days(280);
    let (weeks, rest) = (days / 7, days % 7);
    let band = match weeks {
        w if w < 14 => ("first_trimester", "孕早期", "First trimester", false),
        w if w < 28 => ("second_trimester", "孕中期", "Second trimester", false),
        w if w < 42 => ("third_trimester", "孕晚期", "Third trimester", false),
        _ => ("post_term", "过期妊娠", "Post-term", true),
    };
    Ok(card(
        "due_date",
        vec![field("last_period", lmp.to_string()), field("gestational_age", format!("{weeks}+{rest}"))],
        due.to_string(),
        "",
        band,
        "Naegele (LMP + 280 d)",
    ))
}

impl CalculatorCard {
    /// A one-line text for notifications and search.
    pub fn summary(&self) -> String {
        format!("{} {} {} {}", self.calculator, self.value, self.unit, self.band_zh).trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    #[test]
    fn bmi_uses_the_chinese_bands() {
        let c = CalcInput::Bmi { height_cm: 170.0, weight_kg: 72.0 }.compute(today()).unwrap();
        assert_eq!(
            (c.value.as_str(), c.band.as_str()),
            ("24.9", "overweight"),
            "24.9 is overweight in China, normal by WHO"
        );
        let c = CalcInput::Bmi { height_cm: 160.0, weight_kg: 50.0 }.compute(today()).unwrap();
        assert_eq!((c.value.as_str(), c.band.as_str(), c.alert), ("19.5", "normal", false));
        assert_eq!(CalcInput::Bmi { height_cm: 160.0, weight_kg: 72.0 }.compute(today()).unwrap().band, "obese");
    }

    #[test]
    fn egfr_matches_ckd_epi_2021_reference_values() {
        // 50-year-old man, creatinine 1.0 mg/dL (88.4 µmol/L): 92 by the published equation.
        let c = CalcInput::Egfr { creatinine_umol_l: 88.4, age_years: 50.0, female: false }.compute(today()).unwrap();
        assert_eq!((c.value.as_str(), c.band.as_str()), ("92", "g1"));
        // 60-year-old woman at κ (0.7 mg/dL = 61.88 µmol/L): 142 × 0.9938^60 × 1.012 ≈ 99.
        let c = CalcInput::Egfr { creatinine_umol_l: 61.88, age_years: 60.0, female: true }.compute(today()).unwrap();
        assert_eq!(c.value, "99");
        let c = CalcInput::Egfr { creatinine_umol_l: 300.0, age_years: 70.0, female: false }.compute(today()).unwrap();
        assert_eq!(c.band, "g4");
        assert!(c.alert);
    }

    #[test]
    fn blood_pressure_takes_the_higher_category() {
        let grade = |s, d| CalcInput::BloodPressure { systolic: s, diastolic: d }.compute(today()).unwrap().band;
        assert_eq!(grade(118.0, 76.0), "normal");
        assert_eq!(grade(125.0, 85.0), "high_normal");
        assert_eq!(grade(150.0, 95.0), "grade_1");
        assert_eq!(grade(135.0, 105.0), "grade_2");
        assert_eq!(grade(185.0, 112.0), "grade_3");
        assert_eq!(grade(165.0, 80.0), "isolated_systolic");
    }

    #[test]
    fn due_date_is_lmp_plus_280_days() {
        let lmp = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        let c = CalcInput::DueDate { last_period: lmp }.compute(today()).unwrap();
        assert_eq!(c.value, "2027-06-08");
        assert_eq!(c.inputs[1].value, "13+0");
        assert_eq!(c.band, "first_trimester");
    }

    #[test]
    fn impossible_inputs_are_refused() {
        assert_eq!(CalcInput::Bmi { height_cm: 17.0, weight_kg: 60.0 }.compute(today()), Err(CalcError::OutOfRange));
        assert_eq!(
            CalcInput::Bmi { height_cm: f64::NAN, weight_kg: 60.0 }.compute(today()),
            Err(CalcError::OutOfRange)
        );
        assert!(CalcInput::BloodPressure { systolic: 80.0, diastolic: 90.0 }.compute(today()).is_err());
        assert!(CalcInput::Egfr { creatinine_umol_l: 80.0, age_years: 12.0, female: true }.compute(today()).is_err());
        let future = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert!(CalcInput::DueDate { last_period: future }.compute(today()).is_err());
    }
}
