//! Cryptographic primitives for Yiqiao.
//!
//! Purpose: field-level encryption at rest (requirement S1), keyed blind
//! indexes for equality lookups on encrypted columns, and the keyed hash chain
//! that makes the audit log tamper-evident (requirement S3).
//!
//! Invariants shared by every module:
//! - key material never appears in `Debug` output, error messages or logs, and
//!   is zeroized when the owning value is dropped;
//! - every ciphertext is bound to its storage location (table, column, row id)
//!   and to its own header, so it cannot be moved or re-labelled undetected;
//! - the blind-index algorithm of a key ring is fixed at creation time.

pub mod blind;
pub mod chain;
pub mod cipher;
pub mod error;
pub mod keyring;

pub use blind::BlindAlg;
pub use chain::{GENESIS, chain_hash, hmac_sha1, hmac_sha256, hmac_sm3, sm3_hex};
pub use cipher::{Aad, CipherKind, key_id_of, key_id_of_str};
pub use error::CryptoError;
pub use keyring::{KeyInfo, KeyRing};
