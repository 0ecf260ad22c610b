//! Table `seal_backlog`: plaintext values migration m0016 moved out of their columns, waiting to be
//! sealed by the first start that holds the key ring (issue 11 item 10). Empty once converted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "seal_backlog")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Table and sealed column the value belongs in.
    pub tbl: String,
    pub col: String,
    /// The row's primary key (for `consultation_diagnoses`: the consultation).
    pub row_id: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
