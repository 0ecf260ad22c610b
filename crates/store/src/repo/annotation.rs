//! Annotation sets; the caller has checked access to the attachment's consultation.

use sea_orm::{ConnectionTrait, EntityTrait, sea_query::OnConflict};

use crate::{StoreError, entity::annotation as a};

pub async fn upsert(db: &impl ConnectionTrait, row: a::Model) -> Result<(), StoreError> {
    let am: a::ActiveModel = row.into();
    a::Entity::insert(am)
        .on_conflict(
            OnConflict::column(a::Column::AttachmentId)
                .update_columns([a::Column::AuthorId, a::Column::ShapesEnc, a::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, attachment_id: &str) -> Result<Option<a::Model>, StoreError> {
    Ok(a::Entity::find_by_id(attachment_id.to_owned()).one(db).await?)
}
