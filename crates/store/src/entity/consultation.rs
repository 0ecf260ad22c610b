//! Table `consultations`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub doctor_id: Option<String>,
    pub department_id: Option<String>,
    pub institution_id: String,
    pub status: String,
    pub kind: String,
    pub priority: bool,
    pub complaint_enc: Vec<u8>,
    pub prior_diagnosis_enc: Option<Vec<u8>>,
    /// Sealed comma-separated red-flag categories (issue 11 item 10); `None` when none was raised.
    pub red_flags_enc: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub first_response_due_at: DateTimeUtc,
    pub first_response_at: Option<DateTimeUtc>,
    pub first_responder_id: Option<String>,
    pub escalated_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub summary_enc: Option<Vec<u8>>,
    pub rating: Option<i32>,
    pub rating_comment_enc: Option<Vec<u8>>,
    pub rated_at: Option<DateTimeUtc>,
    pub last_seq: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
