//! Table `user_roles`: one row per role a user holds at one institution (B3, P1; issue 11 item 1).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
    pub institution_id: Option<String>,
    /// `institution_id`, or `''` for roles held without an institution (part of the key; a key
    /// column cannot be NULL). Written only by `repo::user::grant_role`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub institution_key: String,
    pub granted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
