//! Secret values at rest: AES-256-GCM with a key the database never holds.
//!
//! A sealed value is text, so it fits the TEXT columns that held the plain
//! value: `hfenc1:KEYID:BASE64(nonce || ciphertext)`, where KEYID is the first
//! 8 hex digits of the key's SHA-256, so a value names the key it needs. The
//! column's name is the associated data: a value moved to another column
//! does not open.
//!
//! Rotation: the current key seals; the current and every previous key open.
//! At start the store reseals what an older key (or no key: rows from before
//! encryption) sealed, so a previous key can be dropped after one start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

const PREFIX: &str = "hfenc1:";
const NONCE_LEN: usize = 12;

/// Where the store's keys come from.
#[derive(Clone, Debug, Default)]
pub struct SecretKeys {
    /// The key that seals, base64 of 32 bytes (`HOOKFLOW_SECRET_KEY`). Without it, `file`.
    pub current: Option<String>,
    /// Keys of earlier rotations, which still open (`HOOKFLOW_SECRET_KEY_PREVIOUS`).
    pub previous: Vec<String>,
    /// The key file to read, or create on first start, when no key is given.
    pub file: Option<PathBuf>,
}

impl SecretKeys {
    /// The default key file of a database: beside a SQLite file, in the working folder otherwise.
    pub fn file_beside(backend: &crate::Backend) -> PathBuf {
        match backend {
            crate::Backend::Sqlite(path) => PathBuf::from(format!("{path}.key")),
            crate::Backend::Postgres(_) => PathBuf::from("hookflow.key"),
        }
    }
}

struct Key {
    id: String,
    aead: Aes256Gcm,
}

impl Key {
    fn from_base64(text: &str, what: &str) -> Result<Key, String> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| format!("{what} is not base64 (make one with `openssl rand -base64 32`)"))?;
        Key::from_bytes(&bytes, what)
    }

    fn from_bytes(bytes: &[u8], what: &str) -> Result<Key, String> {
        let aead = Aes256Gcm::new_from_slice(bytes)
            .map_err(|_| format!("{what} must be 32 bytes, base64-encoded; it is {} bytes", bytes.len()))?;
        let id = hex8(&Sha256::digest(bytes));
        Ok(Key { id, aead })
    }
}

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Seals and opens secret values.
pub struct Cipher {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("key_id", &self.current.id)
            .finish_non_exhaustive()
    }
}

impl Cipher {
    /// Loads the keys: the given key, or the key file (created with a new random key when missing).
    pub fn load(keys: &SecretKeys) -> Result<Cipher, String> {
        let current = match (&keys.current, &keys.file) {
            (Some(text), _) => Key::from_base64(text, "HOOKFLOW_SECRET_KEY")?,
            (None, Some(path)) => key_file(path)?,
            (None, None) => return Err("no secret key: set HOOKFLOW_SECRET_KEY or a key file".into()),
        };
        let previous = keys
            .previous
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| Key::from_base64(k, "HOOKFLOW_SECRET_KEY_PREVIOUS"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cipher { current, previous })
    }

    /// A cipher with a fixed key, for tests.
    #[cfg(test)]
    fn for_tests(seed: u8) -> Cipher {
        Cipher {
            current: Key::from_bytes(&[seed; 32], "test key").expect("32 bytes"),
            previous: Vec::new(),
        }
    }

    /// Seals `plain` for the column `column`.
    pub fn seal(&self, column: &str, plain: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .current
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: column.as_bytes(),
                },
            )
            .expect("AES-GCM seals any input under 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.current.id, B64.encode(bytes))
    }

    /// Opens a value of `column`; a value without the prefix is from before encryption and is
    /// returned as it is.
    pub fn open(&self, column: &str, stored: &str) -> Result<String, String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, body) = rest
            .split_once(':')
            .ok_or_else(|| format!("{column}: a sealed value without a key id"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                format!(
                    "{column}: sealed with key {id}, which is neither HOOKFLOW_SECRET_KEY nor one of \
                     HOOKFLOW_SECRET_KEY_PREVIOUS"
                )
            })?;
        let bytes = B64
            .decode(body)
            .map_err(|_| format!("{column}: a sealed value that is not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(format!("{column}: a sealed value too short to hold its nonce"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = key
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| format!("{column}: a sealed value that does not open (altered, or another column's)"))?;
        String::from_utf8(plain).map_err(|_| format!("{column}: a sealed value that is not text"))
    }

    /// Whether a stored value is sealed with the current key (else it is resealed at start).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }
}

/// Reads the key file, or creates it with a new random key (mode 0600) when missing. Two
/// processes starting at once agree: the file appears whole (written aside, then linked).
fn key_file(path: &Path) -> Result<Key, String> {
    let what = format!("the key file {}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => return Key::from_base64(&text, &what),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{what}: {e}")),
    }
    let key: [u8; 32] = rand::random();
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&aside)?;
        writeln!(file, "{}", B64.encode(key))?;
        file.sync_all()
    };
    write().map_err(|e| format!("{what}: cannot write {}: {e}", aside.display()))?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "Created a new secret key file: keep it with the database, and back it up.");
            Key::from_bytes(&key, &what)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_by_column() {
        let c = Cipher::for_tests(1);
        let sealed = c.seal("channels.credentials", "s3cret");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            c.seal("channels.credentials", "s3cret"),
            "a fresh nonce each time"
        );
        assert_eq!(c.open("channels.credentials", &sealed).unwrap(), "s3cret");
        assert!(
            c.open("subscriptions.secret", &sealed).is_err(),
            "another column's value"
        );
        assert_eq!(c.open("x", "plain from before").unwrap(), "plain from before");
        assert!(c.is_current(&sealed));
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_say_so() {
        let old = Cipher::for_tests(1);
        let sealed = old.seal("c", "v");
        let new = Cipher {
            current: Key::from_bytes(&[2; 32], "k").unwrap(),
            previous: vec![Key::from_bytes(&[1; 32], "k").unwrap()],
        };
        assert_eq!(new.open("c", &sealed).unwrap(), "v");
        assert!(!new.is_current(&sealed));
        let err = Cipher::for_tests(3).open("c", &sealed).unwrap_err();
        assert!(err.contains("neither HOOKFLOW_SECRET_KEY"), "{err}");
        let mut altered = sealed.clone();
        altered.replace_range(altered.len() - 6..altered.len() - 4, "AA");
        assert!(new.open("c", &altered).is_err());
    }

    #[test]
    fn a_key_file_is_made_once_and_read_after() {
        let dir = std::env::temp_dir().join(format!("hf-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.key");
        let _ = std::fs::remove_file(&path);
        let first = key_file(&path).unwrap();
        let second = key_file(&path).unwrap();
        assert_eq!(first.id, second.id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(key_file(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
