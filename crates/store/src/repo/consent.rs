//! PIPL consents.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{StoreError, entity::consent};

/// Whether `user_id` holds an unwithdrawn consent of `kind`.
pub async fn is_active(db: &impl ConnectionTrait, user_id: &str, kind: &str) -> Result<bool, StoreError> {
    Ok(consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .filter(consent::Column::Kind.eq(kind))
        .filter(consent::Column::WithdrawnAt.is_null())
        .one(db)
        .await?
        .is_some())
}
