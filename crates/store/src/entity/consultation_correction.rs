//! Table `consultation_corrections`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_corrections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub consultation_id: String,
    pub version: i32,
    pub author_id: String,
    pub reason_enc: Vec<u8>,
    pub summary_enc: Vec<u8>,
    /// Sealed comma-separated ICD-10 codes (issue 11 item 10).
    pub diagnoses_enc: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
