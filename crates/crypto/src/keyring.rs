//! The key ring: data-encryption keys, the blind-index key and the audit-chain
//! key (requirements S1 and S3).
//!
//! JSON document (file or `YIQIAO_KEYRING` environment variable):
//!
//! ```json
//! {"format":1,"active":2,"blind_alg":"hmac-sha256",
//!  "blind_key":"<base64>","audit_key":"<base64>",
//!  "keys":[{"id":1,"cipher":"aes-256-gcm","key":"<base64>","created_at":1700000000},
//!          {"id":2,"cipher":"sm4-gcm","key":"<base64>","created_at":1710000000}]}
//! ```
//!
//! Base64 is the standard padded alphabet; `created_at` is Unix seconds.
//!
//! Invariants:
//! - `active` names a key in `keys`; ids are unique and non-zero; each key has
//!   exactly the length its cipher requires; blind and audit keys are at least
//!   32 bytes;
//! - old data keys stay in the ring after rotation so old blobs still decrypt
//!   (re-encrypt rows whose `key_id_of` is not the active id, then retire);
//! - `blind_alg` is fixed at creation (HMAC-SHA256 for AES rings, HMAC-SM3 for
//!   SM4 rings) and is never changed by rotation;
//! - key bytes are zeroized on drop and never appear in `Debug` or errors.

mod persist;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::blind::{self, BlindAlg};
use crate::chain;
use crate::cipher::{self, Aad, CipherKind, key_id_of};
use crate::error::{CryptoError, fill_random};

/// Current key-ring document format.
const FORMAT: u32 = 1;
/// Length of generated blind-index and audit keys (and the minimum accepted).
const AUX_KEY_LEN: usize = 32;

type Secret = Zeroizing<Vec<u8>>;

/// Public metadata of one data key (no key material).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Key id as stored in blob headers.
    pub id: u32,
    /// Algorithm of the key.
    pub cipher: CipherKind,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
    /// Whether new encryptions use this key.
    pub active: bool,
}

#[derive(Clone)]
struct DataKey {
    cipher: CipherKind,
    key: Secret,
    created_at: i64,
}

/// All keys of one deployment. Cloning copies the secrets; every copy is
/// zeroized when dropped.
#[derive(Clone)]
pub struct KeyRing {
    active: u32,
    blind_alg: BlindAlg,
    blind_key: Secret,
    audit_key: Secret,
    keys: BTreeMap<u32, DataKey>,
}

/// Serialised form; string fields holding base64 keys are wiped on drop.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct RingFile {
    format: u32,
    active: u32,
    #[zeroize(skip)]
    blind_alg: BlindAlg,
    blind_key: String,
    audit_key: String,
    keys: Vec<KeyFile>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct KeyFile {
    id: u32,
    #[zeroize(skip)]
    cipher: CipherKind,
    key: String,
    created_at: i64,
}

fn random_secret(len: usize) -> Result<Secret, CryptoError> {
    let mut key = Zeroizing::new(vec![0_u8; len]);
    fill_random(&mut key)?;
    Ok(key)
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn decode_secret(what: &str, encoded: &str) -> Result<Secret, CryptoError> {
    B64.decode(encoded.trim())
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::KeyRingFormat(format!("{what}: invalid base64")))
}

impl KeyRing {
    /// Creates a ring with one active data key (id 1), a blind-index key and
    /// an audit-chain key. The blind-index algorithm follows `cipher` and is
    /// fixed for the lifetime of the ring.
    pub fn generate(cipher: CipherKind) -> Result<KeyRing, CryptoError> {
        let blind_alg = match cipher {
            CipherKind::Aes256Gcm => BlindAlg::HmacSha256,
            CipherKind::Sm4Gcm => BlindAlg::HmacSm3,
        };
        let first = DataKey { cipher, key: random_secret(cipher.key_len())?, created_at: now_unix() };
        Ok(KeyRing {
            active: 1,
            blind_alg,
            blind_key: random_secret(AUX_KEY_LEN)?,
            audit_key: random_secret(AUX_KEY_LEN)?,
            keys: BTreeMap::from([(1, first)]),
        })
    }

    /// Parses and validates a key-ring JSON document (see module docs).
    pub fn from_json(s: &str) -> Result<KeyRing, CryptoError> {
        let file: RingFile = serde_json::from_str(s).map_err(|e| CryptoError::json(&e))?;
        if file.format != FORMAT {
            return Err(CryptoError::KeyRingFormat(format!("unsupported format {} (expected {FORMAT})", file.format)));
        }
        let blind_key = decode_secret("blind_key", &file.blind_key)?;
        let audit_key = decode_secret("audit_key", &file.audit_key)?;
        if blind_key.len() < AUX_KEY_LEN || audit_key.len() < AUX_KEY_LEN {
            return Err(CryptoError::KeyRingFormat(format!(
                "blind_key and audit_key must be at least {AUX_KEY_LEN} bytes"
            )));
        }
        let mut keys = BTreeMap::new();
        for entry in &file.keys {
            if entry.id == 0 {
                return Err(CryptoError::KeyRingFormat("key id 0 is reserved".into()));
            }
            let key = decode_secret(&format!("key {}", entry.id), &entry.key)?;
            if key.len() != entry.cipher.key_len() {
                return Err(CryptoError::KeyRingFormat(format!(
                    "key {} has wrong length for {} (expected {} bytes)",
                    entry.id,
                    entry.cipher,
                    entry.cipher.key_len()
                )));
            }
            let record = DataKey { cipher: entry.cipher, key, created_at: entry.created_at };
            if keys.insert(entry.id, record).is_some() {
                return Err(CryptoError::KeyRingFormat(format!("duplicate key id {}", entry.id)));
            }
        }
        if !keys.contains_key(&file.active) {
            return Err(CryptoError::KeyRingFormat(format!("active key {} is not in the ring", file.active)));
        }
        Ok(KeyRing { active: file.active, blind_alg: file.blind_alg, blind_key, audit_key, keys })
    }

    /// Serialises the ring (including secrets) as pretty-printed JSON.
    /// The caller must treat the returned string as secret.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and integers into a String cannot fail.
        self.try_to_json().unwrap_or_default()
    }

    /// Fallible form of [`KeyRing::to_json`], used when writing files so an
    /// (impossible) serialisation failure can never produce an empty ring.
    fn try_to_json(&self) -> Result<String, CryptoError> {
        let file = RingFile {
            format: FORMAT,
            active: self.active,
            blind_alg: self.blind_alg,
            blind_key: B64.encode(&*self.blind_key),
            audit_key: B64.encode(&*self.audit_key),
            keys: self
                .keys
                .iter()
                .map(|(&id, k)| KeyFile { id, cipher: k.cipher, key: B64.encode(&*k.key), created_at: k.created_at })
                .collect(),
        };
        serde_json::to_string_pretty(&file).map_err(|e| CryptoError::json(&e))
    }

    /// Adds a new data key using `cipher`, makes it active and returns its id.
    ///
    /// # Panics
    /// If the operating system RNG fails or all `u32` ids are used; use
    /// [`KeyRing::try_rotate`] to handle these as errors.
    pub fn rotate(&mut self, cipher: CipherKind) -> u32 {
        match self.try_rotate(cipher) {
            Ok(id) => id,
            Err(e) => panic!("key rotation failed: {e}"),
        }
    }

    /// Fallible form of [`KeyRing::rotate`].
    pub fn try_rotate(&mut self, cipher: CipherKind) -> Result<u32, CryptoError> {
        let last = self.keys.keys().next_back().copied().unwrap_or(0);
        let id = last.checked_add(1).ok_or_else(|| CryptoError::KeyRingFormat("key ids exhausted".into()))?;
        let record = DataKey { cipher, key: random_secret(cipher.key_len())?, created_at: now_unix() };
        self.keys.insert(id, record);
        self.active = id;
        Ok(id)
    }

    /// Id of the key used for new encryptions.
    pub fn active_key_id(&self) -> u32 {
        self.active
    }

    /// Metadata of every data key, ordered by id.
    pub fn key_ids(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|(&id, k)| KeyInfo { id, cipher: k.cipher, created_at_unix: k.created_at, active: id == self.active })
            .collect()
    }

    /// Blind-index algorithm fixed at creation.
    pub fn blind_alg(&self) -> BlindAlg {
        self.blind_alg
    }

    /// Encrypts with the active key, binding the blob to `aad` (S1).
    pub fn encrypt(&self, plaintext: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        let key = self.keys.get(&self.active).ok_or(CryptoError::UnknownKey(self.active))?;
        cipher::seal(key.cipher, &key.key, self.active, plaintext, aad)
    }

    /// Decrypts a blob with the key named in its header.
    pub fn decrypt(&self, blob: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        let id = key_id_of(blob)?;
        let key = self.keys.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        cipher::open(key.cipher, &key.key, blob, aad)
    }

    /// Encrypts UTF-8 text and returns the blob as standard base64.
    pub fn encrypt_str(&self, plaintext: &str, aad: &Aad) -> Result<String, CryptoError> {
        self.encrypt(plaintext.as_bytes(), aad).map(|blob| cipher::encode_b64(&blob))
    }

    /// Inverse of [`KeyRing::encrypt_str`]; bad base64 or non-UTF-8
    /// plaintext is `Malformed`.
    pub fn decrypt_str(&self, encoded: &str, aad: &Aad) -> Result<String, CryptoError> {
        let blob = cipher::decode_b64(encoded)?;
        let plain = self.decrypt(&blob, aad)?;
        String::from_utf8(plain).map_err(|e| {
            let mut bytes = e.into_bytes();
            bytes.zeroize();
            CryptoError::Malformed
        })
    }

    /// Decrypts `blob` and encrypts it again under the active key (for
    /// re-encryption after rotation).
    pub fn reencrypt(&self, blob: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        let plain = Zeroizing::new(self.decrypt(blob, aad)?);
        self.encrypt(&plain, aad)
    }

    /// Hex blind index of an already-normalised `value` in `domain`
    /// (e.g. `"id_number"`, `"phone"`).
    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        blind::blind_index(self.blind_alg, &self.blind_key, domain, value)
    }

    /// Key of the tamper-evident audit chain (S3).
    pub fn audit_key(&self) -> &[u8] {
        &self.audit_key
    }

    /// [`chain::chain_hash`] with this ring's audit key (S3).
    pub fn chain_hash(&self, prev_hash: &[u8], event_canonical_bytes: &[u8]) -> [u8; 32] {
        chain::chain_hash(&self.audit_key, prev_hash, event_canonical_bytes)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("blind_alg", &self.blind_alg)
            .field("keys", &self.key_ids())
            .finish_non_exhaustive()
    }
}
