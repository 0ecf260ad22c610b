//! Structured message cards (A5): a medication plan shown as a table — drug, dose, times of day,
//! duration — instead of free text that elderly patients misread. It becomes a real prescription in a
//! later issue; here it is what the doctor advises, validated and stored as data.

use serde::{Deserialize, Serialize};

/// Times of day a dose is taken.
pub const TIMES_OF_DAY: [&str; 4] = ["morning", "noon", "evening", "bedtime"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationRow {
    pub drug: String,
    pub dose: String,
    pub times: Vec<String>,
    pub days: u16,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationPlan {
    pub rows: Vec<MedicationRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum CardError {
    Empty,
    Row,
}

impl CardError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "plan_empty",
            Self::Row => "plan_row_invalid",
        }
    }

    pub const fn message(self) -> &'static str {
        match self {
            Self::Empty => "Add at least one medicine to the plan.",
            Self::Row => "Each medicine needs a name, a dose, at least one time of day and 1–365 days.",
        }
    }
}

impl MedicationPlan {
    /// Trims fields, drops blank rows, and checks what is left.
    pub fn validated(mut self) -> Result<Self, CardError> {
        self.rows.retain(|r| !(r.drug.trim().is_empty() && r.dose.trim().is_empty()));
        if self.rows.is_empty() {
            return Err(CardError::Empty);
        }
        if self.rows.len() > 20 {
            return Err(CardError::Row);
        }
        for r in &mut self.rows {
            r.drug = r.drug.trim().to_owned();
            r.dose = r.dose.trim().to_owned();
            r.note = r.note.trim().to_owned();
            r.times.retain(|t| TIMES_OF_DAY.contains(&t.as_str()));
            r.times.dedup();
            let ok = (1..=60).contains(&r.drug.chars().count())
                && (1..=40).contains(&r.dose.chars().count())
                && r.note.chars().count() <= 100
                && !r.times.is_empty()
                && (1..=365).contains(&r.days);
            if !ok {
                return Err(CardError::Row);
            }
        }
        Ok(self)
    }

    /// A one-line text for notifications and search: the drug names.
    pub fn summary(&self) -> String {
        self.rows.iter().map(|r| r.drug.as_str()).collect::<Vec<_>>().join("、")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(drug: &str, times: &[&str], days: u16) -> MedicationRow {
        MedicationRow {
            drug: drug.into(),
            dose: "5 mg".into(),
            times: times.iter().map(|t| (*t).to_owned()).collect(),
            days,
            note: String::new(),
        }
    }

    #[test]
    fn blank_rows_are_dropped_and_valid_rows_kept() {
        let plan = MedicationPlan {
            rows: vec![
                row(" 氨氯地平 ", &["morning"], 30),
                MedicationRow { drug: " ".into(), dose: String::new(), times: vec![], days: 0, note: String::new() },
            ],
        };
        let v = plan.validated().unwrap();
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rows[0].drug, "氨氯地平");
        assert_eq!(v.summary(), "氨氯地平");
    }

    #[test]
    fn invalid_rows_are_refused() {
        assert_eq!(MedicationPlan { rows: vec![] }.validated().unwrap_err(), CardError::Empty);
        assert_eq!(MedicationPlan { rows: vec![row("x", &[], 3)] }.validated().unwrap_err(), CardError::Row);
        assert_eq!(MedicationPlan { rows: vec![row("x", &["midnight"], 3)] }.validated().unwrap_err(), CardError::Row);
        assert_eq!(MedicationPlan { rows: vec![row("x", &["noon"], 0)] }.validated().unwrap_err(), CardError::Row);
        assert_eq!(MedicationPlan { rows: vec![row("x", &["noon"], 400)] }.validated().unwrap_err(), CardError::Row);
    }
}
