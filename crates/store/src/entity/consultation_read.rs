//! Table `consultation_reads`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_reads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub consultation_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub delivered_seq: i64,
    pub read_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
