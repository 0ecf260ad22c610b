//! Table `consultation_diagnoses`: the ICD-10 codes a consultation was closed with (C1, C2). The code
//! is sealed; `code_bidx` (the whole code) and `category_bidx` (the part before the dot) are keyed
//! blind indexes, so search by code or category works without the code in clear (issue 11 item 10).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_diagnoses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub consultation_id: String,
    pub code_enc: Vec<u8>,
    pub code_bidx: String,
    pub category_bidx: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
