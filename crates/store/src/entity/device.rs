//! Table `devices`: a BP monitor or glucometer paired to a patient (D5).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    /// The maker's device id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub kind: String,
    /// Sealed (issue 11 item 10): people name devices after the patient.
    pub label_enc: Option<Vec<u8>>,
    /// The per-device secret, sealed.
    pub secret_enc: Vec<u8>,
    pub paired_by: String,
    pub paired_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
