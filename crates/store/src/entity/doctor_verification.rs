//! Table `doctor_verifications`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "doctor_verifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub licence_number_enc: Vec<u8>,
    pub licence_bidx: String,
    pub title: String,
    pub institution_id: String,
    pub department_id: String,
    pub specialties: String,
    pub licence_file_id: String,
    pub employment_file_id: String,
    pub status: String,
    pub reviewer_id: Option<String>,
    /// Sealed (issue 11 item 10).
    pub review_reason_enc: Option<Vec<u8>>,
    pub submitted_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
