//! The two secrets a control plane needs: the bootstrap admin key and the token signing keys.
//! Either comes from the environment; otherwise it is generated once and kept in the data dir,
//! so a restart keeps every token valid.
//!
//! A key file is only ever created where there is none: readable by its owner from its first
//! byte (no window with looser rights), and complete when it appears under its name. Any other failure to read it stops start-up — a fresh key would silently void
//! every token and lock the operator out.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::distributions::{Alphanumeric, DistString};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the key file {path}: {source}; fix it (or remove it to generate a new key, which voids every token it signed)")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {path} is empty; restore it (or remove it to generate a new key, which voids every token it signed)")]
    Empty { path: PathBuf },
    #[error("cannot create the key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A random token of `length` letters and digits.
pub fn random_text(length: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), length)
}

/// Reads the secret stored in `path`, or creates it with `make` if there is no such file.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> Result<String, SecretError> {
    match read(path) {
        Err(SecretError::Unreadable { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            create(path, make())
        }
        found => found,
    }
}

fn read(path: &Path) -> Result<String, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    match text.trim() {
        "" => Err(SecretError::Empty {
            path: path.to_owned(),
        }),
        secret => Ok(secret.to_owned()),
    }
}

/// Writes `secret` to a new file, mode 0600 from its creation: written whole to a scratch
/// file first, then linked to its name, which fails if the name exists — so a reader never
/// sees a half-written key. If another process made the file first, its secret is the one.
fn create(path: &Path, secret: String) -> Result<String, SecretError> {
    let failed = |source| SecretError::Create {
        path: path.to_owned(),
        source,
    };
    let scratch = path.with_extension(format!("new-{}", random_text(12)));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&scratch)
        .and_then(|mut file| {
            file.write_all(secret.as_bytes())?;
            file.sync_all()
        });
    let linked = written.and_then(|()| std::fs::hard_link(&scratch, path));
    let _ = std::fs::remove_file(&scratch);
    match linked {
        Ok(()) => Ok(secret),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(error) => Err(failed(error)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_key_is_created_once_owner_only_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-key");
        let first = load_or_create(&path, || "one".into()).unwrap();
        assert_eq!(first, "one");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path, || "two".into()).unwrap(), "one");
    }

    #[test]
    fn only_a_missing_key_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(matches!(
            load_or_create(&empty, || "new".into()),
            Err(SecretError::Empty { .. })
        ));
        // A directory where the file should be: unreadable, not replaced.
        let odd = dir.path().join("odd");
        std::fs::create_dir(&odd).unwrap();
        assert!(matches!(
            load_or_create(&odd, || "new".into()),
            Err(SecretError::Unreadable { .. })
        ));
        assert_eq!(std::fs::read_to_string(&empty).unwrap(), "  \n");
    }
}
