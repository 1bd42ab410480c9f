//! The master key file: 32 random bytes, created with mode 0600 (in a directory created 0700)
//! on first start. Losing it makes every sealed secret and private key unreadable, so an existing
//! file of the wrong size stops start-up instead of being replaced.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use scaivault_domain::seal::{KEY_LEN, MasterKey};

/// Reads the key at `path`, or creates it if the file does not exist.
pub fn load_or_create(path: &Path) -> Result<MasterKey, String> {
    load(path)?.map_or_else(|| create(path), Ok)
}

/// Reads the key at `path`; `None` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<MasterKey>, String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            if bytes.len() != KEY_LEN {
                return Err(format!(
                    "{}: holds {} bytes, a master key is {KEY_LEN}; refusing to replace it",
                    path.display(),
                    bytes.len()
                ));
            }
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(file = %path.display(), "master key file is readable by group or others; chmod 600 it");
            }
            MasterKey::from_bytes(&bytes)
                .map(Some)
                .map_err(|err| err.to_string())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// Creates a new key file at `path` (0600), and its directory (0700) if missing.
pub fn create(path: &Path) -> Result<MasterKey, String> {
    let describe = |err: std::io::Error| format!("{}: {err}", path.display());
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && !dir.exists()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(describe)?;
    }
    let (key, bytes) = MasterKey::generate();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(describe)?;
    file.write_all(&bytes).map_err(describe)?;
    file.sync_all().map_err(describe)?;
    tracing::info!(file = %path.display(), "created a new master key; back it up, sealed data cannot be read without it");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_0600_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/master.key");
        let key = load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(dir.path().join("sub"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        let sealed = key.seal("r", b"v").expect("seal");
        let again = load_or_create(&path).expect("reload");
        assert_eq!(again.open("r", &sealed).expect("open"), b"v");
        std::fs::write(&path, b"short").expect("write");
        assert!(load_or_create(&path).is_err());
    }
}
