//! Table `role_invitations`: a staff role an institution admin offered to an account that does not
//! work at the institution yet; it takes effect only when the account's owner accepts (issue 11
//! item 1: no staff role without the person's consent).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub institution_id: String,
    pub user_id: String,
    pub role: String,
    pub invited_by: String,
    /// `pending`, `accepted`, `declined`, `expired`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
