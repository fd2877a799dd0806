//! The two secrets a control plane needs: the bootstrap admin key and the token signing keys.
//! Either comes from the environment; otherwise it is generated once and kept in the data dir,
//! so a restart keeps every token valid.

use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};

/// A random token of `length` letters and digits.
pub fn random_text(length: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), length)
}

/// Reads the secret stored in `path`, or creates it with `make` (readable by the owner only).
pub fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) | Err(_) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let secret = make();
            let temporary = path.with_extension("tmp");
            std::fs::write(&temporary, &secret)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
            }
            std::fs::rename(&temporary, path)?;
            Ok(secret)
        }
    }
}
