//! Encrypted blob storage for attachments (S1): bytes are encrypted with the key ring (bound to the
//! blob's id) before they reach the object store, so neither the local directory nor an S3 bucket ever
//! holds plaintext. Local directory by default; any `object_store` backend at scale.

use std::sync::Arc;

use crypto::{Aad, KeyRing};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path};

use crate::StoreError;

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").finish_non_exhaustive()
    }
}

fn aad(key: &str) -> Aad<'_> {
    Aad { table: "blobs", column: "data", row_id: key }
}

impl BlobStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner }
    }

    /// A directory on the local disk (created when missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|_| StoreError::Corrupt)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|_| StoreError::Corrupt)?;
        Ok(Self::new(Arc::new(fs)))
    }

    pub async fn put(&self, keys: &KeyRing, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let sealed = keys.encrypt(bytes, &aad(key))?;
        self.inner.put(&Path::from(key), PutPayload::from(sealed)).await.map_err(|_| StoreError::Corrupt)?;
        Ok(())
    }

    pub async fn get(&self, keys: &KeyRing, key: &str) -> Result<Vec<u8>, StoreError> {
        let got = self.inner.get(&Path::from(key)).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            _ => StoreError::Corrupt,
        })?;
        let sealed = got.bytes().await.map_err(|_| StoreError::Corrupt)?;
        Ok(keys.decrypt(&sealed, &aad(key))?)
    }
}
