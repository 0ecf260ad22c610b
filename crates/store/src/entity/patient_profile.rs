//! Table `patient_profiles`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub real_name_enc: Vec<u8>,
    pub id_kind: String,
    pub id_number_enc: Vec<u8>,
    pub id_bidx: String,
    pub birth_date_enc: Vec<u8>,
    pub sex: Option<String>,
    pub guardian_user_id: Option<String>,
    pub verified_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
