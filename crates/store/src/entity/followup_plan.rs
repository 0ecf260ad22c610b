//! Table `followup_plans`: a patient's follow-up plan and the doctor responsible for it (D2, D4).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "followup_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub doctor_id: String,
    /// Sealed (issue 11 item 10): the template key (`hypertension`, `diabetes`, `custom`) names the
    /// condition; the title and the lines (JSON: reading kinds, visits by name, how often) too.
    pub template_enc: Option<Vec<u8>>,
    pub title_enc: Option<Vec<u8>>,
    pub measures_enc: Option<Vec<u8>>,
    /// JSON: `domain::reading::Thresholds`.
    pub thresholds: String,
    /// `active`, `ended`.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
