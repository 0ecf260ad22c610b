//! Error type for the crypto crate.
//!
//! Invariant: no variant ever carries plaintext, ciphertext or key bytes.
//! Messages describe *what* failed, never *with which data*, so they are safe
//! to log (requirements S1 and S3).

use std::path::PathBuf;

/// Failures of encryption, decryption and key-ring handling.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The blob names a key id that the key ring does not hold.
    #[error("unknown encryption key id {0}")]
    UnknownKey(u32),
    /// The blob is too short, has an unsupported version or bad encoding.
    #[error("malformed ciphertext blob")]
    Malformed,
    /// Authentication failed: wrong key, tampered data or mismatched context.
    #[error("decryption failed (wrong key, tampered data or mismatched context)")]
    Decrypt,
    /// Reading or writing the key-ring file failed.
    #[error("key ring I/O error: {0}")]
    KeyRingIo(String),
    /// The key-ring document is syntactically or semantically invalid.
    #[error("key ring format error: {0}")]
    KeyRingFormat(String),
    /// The key-ring file does not exist.
    #[error("key ring file not found: {}", .0.display())]
    KeyRingMissing(PathBuf),
    /// The operating system random number generator failed.
    #[error("system random number generator failed")]
    Rng,
}

impl CryptoError {
    /// Wraps an I/O error, keeping only its kind and OS message (never data).
    pub(crate) fn io(context: &str, err: &std::io::Error) -> Self {
        Self::KeyRingIo(format!("{context}: {err}"))
    }

    /// Wraps a JSON error without echoing any part of the input document,
    /// which would risk leaking key material into logs.
    pub(crate) fn json(err: &serde_json::Error) -> Self {
        Self::KeyRingFormat(format!(
            "invalid JSON ({:?} error at line {}, column {})",
            err.classify(),
            err.line(),
            err.column()
        ))
    }
}

/// Fills `buf` from the operating system RNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Rng)
}
