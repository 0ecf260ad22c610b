//! Encrypted blob storage for attachments (S1): bytes are encrypted with the key ring (bound to the
//! blob's id) before they reach the object store, so neither the local directory nor an S3 bucket ever
//! holds plaintext. Local directory by default; any `object_store` backend at scale.

use std::sync::Arc;

use crypto::{Aad, KeyRing};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path};

use crate::StoreError;

/// Connection settings for S3-compatible storage (AWS, MinIO, SeaweedFS, OSS/COS gateways).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// e.g. `http://127.0.0.1:8333`; empty = AWS.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Allow plain HTTP to the endpoint (loopback tests, a sidecar gateway).
    pub allow_http: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("attachment storage: {0}")]
pub struct BlobConfigError(pub String);

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

    /// An S3-compatible bucket (`s3://bucket[/prefix]`, S1 at scale). Bytes are encrypted before
    /// upload, so the bucket and its operators only ever hold ciphertext.
    pub fn s3(url: &str, o: &S3Options) -> Result<Self, BlobConfigError> {
        use object_store::aws::AmazonS3Builder;
        // reqwest is built without a default TLS backend: use rustls with ring (once per process).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::new().with_url(url).with_allow_http(o.allow_http);
        if !o.endpoint.is_empty() {
            b = b.with_endpoint(&o.endpoint);
        }
        if !o.region.is_empty() {
            b = b.with_region(&o.region);
        }
        if !o.access_key_id.is_empty() {
            b = b.with_access_key_id(&o.access_key_id).with_secret_access_key(&o.secret_access_key);
        }
        let s3 = b.build().map_err(|e| BlobConfigError(e.to_string()))?;
        let prefix = url.strip_prefix("s3://").and_then(|r| r.split_once('/')).map(|(_, p)| p.trim_matches('/'));
        Ok(match prefix {
            Some(p) if !p.is_empty() => Self::new(Arc::new(object_store::prefix::PrefixStore::new(s3, p.to_owned()))),
            _ => Self::new(Arc::new(s3)),
        })
    }

    /// The store a `[blob] url` names: empty or `file://…` for a local directory (`default_dir`
    /// when empty), `s3://…` for S3-compatible storage.
    pub fn from_url(url: &str, default_dir: &std::path::Path, o: &S3Options) -> Result<Self, BlobConfigError> {
        if url.is_empty() {
            Self::local(default_dir).map_err(|e| BlobConfigError(e.to_string()))
        } else if let Some(dir) = url.strip_prefix("file://") {
            Self::local(std::path::Path::new(dir)).map_err(|e| BlobConfigError(e.to_string()))
        } else if url.starts_with("s3://") {
            Self::s3(url, o)
        } else {
            Err(BlobConfigError("blob url must be empty, file://DIR or s3://BUCKET[/PREFIX]".into()))
        }
    }

    /// The raw object (ciphertext) as stored: for tests and operators checking S1.
    pub async fn raw(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let got = self.inner.get(&Path::from(key)).await.map_err(|_| StoreError::NotFound)?;
        Ok(got.bytes().await.map_err(|_| StoreError::Corrupt)?.to_vec())
    }

    pub async fn put(&self, keys: &KeyRing, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let sealed = keys.encrypt(bytes, &aad(key))?;
        self.inner.put(&Path::from(key), PutPayload::from(sealed)).await.map_err(|_| StoreError::Corrupt)?;
        Ok(())
    }

    /// Deletes an object; deleting one that is gone already succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(_) => Err(StoreError::Corrupt),
        }
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
