//! Authenticated field encryption (requirement S1, encryption at rest).
//!
//! Blob layout (exactly):
//!
//! ```text
//! version (1 byte = 1) ‖ key_id (u32 big-endian) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)
//! ```
//!
//! Invariants:
//! - the nonce is drawn from the OS RNG for every encryption, never reused on
//!   purpose and never derived from data;
//! - the GCM associated data is `DOMAIN ‖ version ‖ key_id ‖ len(table) ‖
//!   table ‖ len(column) ‖ column ‖ len(row_id) ‖ row_id` (lengths are u64
//!   big-endian), so flipping any header bit, or moving a ciphertext to another
//!   table, column or row, makes decryption fail;
//! - AES-256-GCM uses a 32-byte key, SM4-GCM (GB/T 32907 block cipher in GCM
//!   mode, as in RFC 8998) uses a 16-byte key.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit, array::Array};
use aes_gcm::{Aes256Gcm, AesGcm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::{CryptoError, fill_random};

/// SM4 in Galois/Counter Mode with a 96-bit nonce and 128-bit tag.
pub type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// Version byte of the current blob layout.
pub const BLOB_VERSION: u8 = 1;
/// Length of the random nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag in bytes.
pub const TAG_LEN: usize = 16;
/// Length of `version ‖ key_id`.
const PREFIX_LEN: usize = 1 + 4;
/// Length of `version ‖ key_id ‖ nonce`.
pub const HEADER_LEN: usize = PREFIX_LEN + NONCE_LEN;
/// Smallest valid blob (empty plaintext).
pub const MIN_BLOB_LEN: usize = HEADER_LEN + TAG_LEN;

/// Domain-separation label that opens the associated data.
const AAD_DOMAIN: &[u8] = b"yiqiao/field-aead/v1";

/// The AEAD algorithm of a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CipherKind {
    /// AES-256 in GCM mode (32-byte key).
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    /// SM4 in GCM mode (16-byte key), for deployments requiring Chinese
    /// commercial cryptography (GM/T) algorithms.
    #[serde(rename = "sm4-gcm")]
    Sm4Gcm,
}

impl CipherKind {
    /// Canonical lowercase name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::Sm4Gcm => "sm4-gcm",
        }
    }

    /// Required key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 32,
            Self::Sm4Gcm => 16,
        }
    }
}

impl fmt::Display for CipherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepts the canonical names plus the short aliases `aes` / `sm4`
/// (case-insensitive), e.g. for configuration values.
impl FromStr for CipherKind {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aes-256-gcm" | "aes256gcm" | "aes" => Ok(Self::Aes256Gcm),
            "sm4-gcm" | "sm4gcm" | "sm4" => Ok(Self::Sm4Gcm),
            other => Err(CryptoError::KeyRingFormat(format!(
                "unknown cipher {other:?} (expected \"aes-256-gcm\" or \"sm4-gcm\")"
            ))),
        }
    }
}

/// Storage location a ciphertext is bound to via the GCM associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// Table name, e.g. `"patients"`.
    pub table: &'a str,
    /// Column name, e.g. `"id_number"`.
    pub column: &'a str,
    /// Primary key of the row, as text.
    pub row_id: &'a str,
}

impl<'a> Aad<'a> {
    /// Convenience constructor.
    pub fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Self {
        Self { table, column, row_id }
    }

    /// Unambiguous encoding of header prefix and location (length-prefixed).
    fn encode(&self, prefix: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            AAD_DOMAIN.len() + prefix.len() + 24 + self.table.len() + self.column.len() + self.row_id.len(),
        );
        out.extend_from_slice(AAD_DOMAIN);
        out.extend_from_slice(prefix);
        for part in [self.table, self.column, self.row_id] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// Reads the key id from a blob header without decrypting it; used to find
/// rows that still need re-encryption after a key rotation.
pub fn key_id_of(blob: &[u8]) -> Result<u32, CryptoError> {
    if blob.len() < MIN_BLOB_LEN || blob[0] != BLOB_VERSION {
        return Err(CryptoError::Malformed);
    }
    let id: [u8; 4] = blob[1..PREFIX_LEN].try_into().map_err(|_| CryptoError::Malformed)?;
    Ok(u32::from_be_bytes(id))
}

/// Like [`key_id_of`] for the base64 text produced by `KeyRing::encrypt_str`.
pub fn key_id_of_str(encoded: &str) -> Result<u32, CryptoError> {
    key_id_of(&decode_b64(encoded)?)
}

/// Base64 (standard alphabet, padded) used for text columns.
pub(crate) fn encode_b64(blob: &[u8]) -> String {
    B64.encode(blob)
}

/// Inverse of [`encode_b64`]; any decoding problem is `Malformed`.
pub(crate) fn decode_b64(encoded: &str) -> Result<Vec<u8>, CryptoError> {
    B64.decode(encoded.trim()).map_err(|_| CryptoError::Malformed)
}

/// Encrypts `plaintext` under `key` (of algorithm `kind`) and frames it as a
/// blob carrying `key_id`.
pub(crate) fn seal(
    kind: CipherKind,
    key: &[u8],
    key_id: u32,
    plaintext: &[u8],
    aad: &Aad<'_>,
) -> Result<Vec<u8>, CryptoError> {
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.push(BLOB_VERSION);
    blob.extend_from_slice(&key_id.to_be_bytes());
    let mut nonce = [0_u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    blob.extend_from_slice(&nonce);
    let associated = aad.encode(&blob[..PREFIX_LEN]);
    blob.extend_from_slice(plaintext);
    let tag = match kind {
        CipherKind::Aes256Gcm => seal_with::<Aes256Gcm>(key, &nonce, &associated, &mut blob[HEADER_LEN..])?,
        CipherKind::Sm4Gcm => seal_with::<Sm4Gcm>(key, &nonce, &associated, &mut blob[HEADER_LEN..])?,
    };
    blob.extend_from_slice(&tag);
    Ok(blob)
}

/// Authenticates and decrypts a blob with `key`. The caller has already
/// looked up the key by [`key_id_of`].
pub(crate) fn open(kind: CipherKind, key: &[u8], blob: &[u8], aad: &Aad<'_>) -> Result<Vec<u8>, CryptoError> {
    key_id_of(blob)?;
    let associated = aad.encode(&blob[..PREFIX_LEN]);
    let nonce = &blob[PREFIX_LEN..HEADER_LEN];
    let tag_at = blob.len() - TAG_LEN;
    let tag = &blob[tag_at..];
    let mut buf = blob[HEADER_LEN..tag_at].to_vec();
    match kind {
        CipherKind::Aes256Gcm => open_with::<Aes256Gcm>(key, nonce, &associated, &mut buf, tag),
        CipherKind::Sm4Gcm => open_with::<Sm4Gcm>(key, nonce, &associated, &mut buf, tag),
    }?;
    Ok(buf)
}

fn seal_with<C>(key: &[u8], nonce: &[u8], associated: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN], CryptoError>
where
    C: AeadInOut<NonceSize = U12> + KeyInit,
{
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::Decrypt)?;
    let nonce = Array::try_from(nonce).map_err(|_| CryptoError::Malformed)?;
    let tag = cipher.encrypt_inout_detached(&nonce, associated, buf.into()).map_err(|_| CryptoError::Decrypt)?;
    tag.as_slice().try_into().map_err(|_| CryptoError::Malformed)
}

fn open_with<C>(key: &[u8], nonce: &[u8], associated: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError>
where
    C: AeadInOut<NonceSize = U12> + KeyInit,
{
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::Decrypt)?;
    let nonce = Array::try_from(nonce).map_err(|_| CryptoError::Malformed)?;
    let tag = Array::try_from(tag).map_err(|_| CryptoError::Malformed)?;
    cipher.decrypt_inout_detached(&nonce, associated, buf.into(), &tag).map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const AAD: Aad<'static> = Aad { table: "patients", column: "phone", row_id: "42" };

    #[test]
    fn cipher_kind_round_trips_through_text_and_serde() {
        for kind in [CipherKind::Aes256Gcm, CipherKind::Sm4Gcm] {
            assert_eq!(kind.as_str().parse::<CipherKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<CipherKind>(&json).unwrap(), kind);
        }
        assert!("des".parse::<CipherKind>().is_err());
    }

    #[test]
    fn aad_encoding_is_unambiguous() {
        let a = Aad::new("ab", "c", "1").encode(&[1, 0, 0, 0, 1]);
        let b = Aad::new("a", "bc", "1").encode(&[1, 0, 0, 0, 1]);
        assert_ne!(a, b);
    }

    #[test]
    fn blob_layout_is_exact() {
        let key = [7_u8; 32];
        let blob = seal(CipherKind::Aes256Gcm, &key, 0x0102_0304, b"hello", &AAD).unwrap();
        assert_eq!(blob.len(), 1 + 4 + 12 + 5 + 16);
        assert_eq!(&blob[..5], &[1, 1, 2, 3, 4]);
        assert_eq!(key_id_of(&blob).unwrap(), 0x0102_0304);
        let plain = open(CipherKind::Aes256Gcm, &key, &blob, &AAD).unwrap();
        assert_eq!(plain, b"hello");
    }

    #[test]
    fn nonces_differ_per_encryption() {
        let key = [9_u8; 16];
        let a = seal(CipherKind::Sm4Gcm, &key, 1, b"same", &AAD).unwrap();
        let b = seal(CipherKind::Sm4Gcm, &key, 1, b"same", &AAD).unwrap();
        assert_ne!(a[PREFIX_LEN..HEADER_LEN], b[PREFIX_LEN..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn short_or_wrong_version_blobs_are_malformed() {
        assert!(matches!(key_id_of(&[1; 10]), Err(CryptoError::Malformed)));
        let mut blob = seal(CipherKind::Aes256Gcm, &[1; 32], 1, b"", &AAD).unwrap();
        blob[0] = 2;
        assert!(matches!(key_id_of(&blob), Err(CryptoError::Malformed)));
        assert!(matches!(key_id_of_str("***"), Err(CryptoError::Malformed)));
    }
}
