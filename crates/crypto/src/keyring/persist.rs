//! Key-ring file persistence (requirement S1: keys at rest).
//!
//! Invariants:
//! - files are written atomically: a fresh temporary file in the same
//!   directory (created with mode 0o600 on unix) is written, synced and then
//!   renamed over the target, so readers never see a partial ring;
//! - `load_or_create` never overwrites an existing ring: the new file is
//!   published with a hard link, which fails if another process won the race,
//!   in which case the winner's ring is loaded instead;
//! - error messages name paths and OS errors, never key material.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::KeyRing;
use crate::cipher::CipherKind;
use crate::error::{CryptoError, fill_random};

impl KeyRing {
    /// Reads a ring from `path`; `KeyRingMissing` if the file does not exist.
    pub fn load(path: &Path) -> Result<KeyRing, CryptoError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => zeroize::Zeroizing::new(text),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(CryptoError::KeyRingMissing(path.to_path_buf()));
            }
            Err(e) => return Err(CryptoError::io(&format!("read {}", path.display()), &e)),
        };
        KeyRing::from_json(&text)
    }

    /// Atomically writes the ring to `path` with owner-only permissions.
    pub fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let tmp = self.write_temp(path)?;
        fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            CryptoError::io(&format!("rename into {}", path.display()), &e)
        })?;
        sync_parent(path);
        Ok(())
    }

    /// Loads the ring at `path`, or generates and saves a new one with
    /// `cipher`. Returns `true` when a new ring was created.
    pub fn load_or_create(path: &Path, cipher: CipherKind) -> Result<(KeyRing, bool), CryptoError> {
        match KeyRing::load(path) {
            Err(CryptoError::KeyRingMissing(_)) => {}
            other => return other.map(|ring| (ring, false)),
        }
        let ring = KeyRing::generate(cipher)?;
        let tmp = ring.write_temp(path)?;
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_parent(path);
                Ok((ring, true))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => KeyRing::load(path).map(|existing| (existing, false)),
            // Filesystems without hard links: fall back to a plain save.
            Err(_) => {
                ring.save(path)?;
                Ok((ring, true))
            }
        }
    }

    /// Writes the ring to a new temporary file next to `path` and syncs it.
    fn write_temp(&self, path: &Path) -> Result<PathBuf, CryptoError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| CryptoError::io(&format!("create {}", dir.display()), &e))?;
        let name =
            path.file_name().ok_or_else(|| CryptoError::KeyRingIo(format!("{} is not a file", path.display())))?;
        let mut suffix = [0_u8; 8];
        fill_random(&mut suffix)?;
        let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), hex::encode(suffix)));
        let json = zeroize::Zeroizing::new(self.try_to_json()?);
        let result = create_private(&tmp).and_then(|mut file| {
            file.write_all(json.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        });
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(CryptoError::io(&format!("write {}", tmp.display()), &e));
        }
        Ok(tmp)
    }
}

/// Creates a new file that only the owner can read and write.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Best-effort fsync of the directory so the rename survives a crash.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(handle) = path.parent().filter(|d| !d.as_os_str().is_empty()).and_then(|d| File::open(d).ok()) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}
