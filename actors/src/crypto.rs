//! Encryption at rest: the [`KeyRing`] that seals signing secrets and credential headers
//! before they reach Postgres or Redis, and opens them again.
//!
//! - Cipher: XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`), a fresh random 24-byte nonce
//!   per value from `rand`'s OS-seeded CSPRNG. With 192-bit nonces, random nonces never
//!   collide in practice, so no counter has to be kept across nodes.
//! - Format: `enc:v1:<key id>:<base64url(nonce || ciphertext+tag)>`. The key id is the first
//!   8 hex digits of a SHA-256 over the key, so it does not depend on the order of
//!   `COURIER_ENCRYPTION_KEY` and names the key that can open the value. The header
//!   `enc:v1:<key id>:` and an optional caller context are authenticated as associated data,
//!   so a value cannot be moved to another context or relabelled without failing to open.
//! - Keys: `COURIER_ENCRYPTION_KEY` is a comma-separated list of base64 32-byte keys; the
//!   first encrypts, all decrypt. Without it, [`load`] uses (or generates once, for every
//!   node) a key kept in the `encryption_keys` table and warns loudly: that key sits beside
//!   the data it protects. Keys in that table always stay in the ring for decryption, so
//!   setting the variable later loses nothing.
//! - Legacy: [`KeyRing::open`] returns a value without the `enc:` prefix as it is, so rows
//!   written before encryption keep working until the re-encryption pass
//!   ([`KeyRing::needs_reseal`], [`KeyRing::reseal`]) rewrites them. A plaintext that itself
//!   starts with `enc:v1:` cannot be told apart and fails to open; new values are always
//!   sealed, so only values stored before this release could be affected.
//!
//! Must never happen: a key or a plaintext in a log line or `Debug` output; a value sealed
//! with a key that is not the ring's first.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::db::encryption_keys;

const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes in a key.
pub const KEY_LEN: usize = 32;

/// Why `COURIER_ENCRYPTION_KEY` (or a stored key) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(
        "key {position} is not base64 of 32 bytes ({reason}); generate one with `openssl rand -base64 32`"
    )]
    BadKey { position: usize, reason: String },
    #[error("no key given")]
    Empty,
    #[error("keys {0} and {1} are the same key")]
    Duplicate(usize, usize),
    #[error("cannot read or store the generated key: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a stored value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed with key {0}, which is not in COURIER_ENCRYPTION_KEY or the key table")]
    UnknownKey(String),
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not authenticate (wrong key, context or a changed value)")]
    Tampered,
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys that seal and open values; the first seals.
pub struct KeyRing {
    keys: Vec<Key>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

/// The id a key is named by in sealed values.
pub fn key_id(key: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::new()
        .chain_update(b"courier-encryption-key-id\0")
        .chain_update(key)
        .finalize();
    hex::encode(&digest[..4])
}

/// A fresh random key.
pub fn generate_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Base64 (standard or URL-safe, padded or not) of 32 bytes.
pub fn decode_key(raw: &str, position: usize) -> Result<[u8; KEY_LEN], KeyRingError> {
    let raw = raw.trim();
    let bytes = STANDARD
        .decode(raw)
        .or_else(|_| URL_SAFE.decode(raw))
        .or_else(|_| URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw))
        .map_err(|e| KeyRingError::BadKey {
            position,
            reason: e.to_string(),
        })?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| KeyRingError::BadKey {
        position,
        reason: format!("{} bytes", bytes.len()),
    })
}

/// Parses `COURIER_ENCRYPTION_KEY`: comma-separated keys, the first one encrypting.
pub fn parse_keys(raw: &str) -> Result<Vec<[u8; KEY_LEN]>, KeyRingError> {
    let keys = raw
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .enumerate()
        .map(|(i, part)| decode_key(part, i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(KeyRingError::Empty);
    }
    for (i, a) in keys.iter().enumerate() {
        if let Some(j) = keys[i + 1..].iter().position(|b| b == a) {
            return Err(KeyRingError::Duplicate(i + 1, i + j + 2));
        }
    }
    Ok(keys)
}

impl KeyRing {
    /// A ring of `keys`; the first seals, all open. Repeated keys are kept once.
    pub fn new(keys: &[[u8; KEY_LEN]]) -> Result<Self, KeyRingError> {
        let mut ring: Vec<Key> = Vec::with_capacity(keys.len());
        for key in keys {
            let id = key_id(key);
            if ring.iter().any(|k| k.id == id) {
                continue;
            }
            let cipher =
                XChaCha20Poly1305::new_from_slice(key).map_err(|e| KeyRingError::BadKey {
                    position: ring.len() + 1,
                    reason: e.to_string(),
                })?;
            ring.push(Key { id, cipher });
        }
        if ring.is_empty() {
            return Err(KeyRingError::Empty);
        }
        Ok(Self { keys: ring })
    }

    /// From `COURIER_ENCRYPTION_KEY`'s text.
    pub fn parse(raw: &str) -> Result<Self, KeyRingError> {
        Self::new(&parse_keys(raw)?)
    }

    /// The id of the key that seals.
    pub fn primary_id(&self) -> &str {
        &self.keys[0].id
    }

    /// The ids of every key, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Seals `plaintext` with the first key.
    pub fn seal(&self, plaintext: &str) -> String {
        self.seal_in(b"", plaintext)
    }

    /// Seals `plaintext` bound to `context` (for example a column name and a row id): it
    /// opens only with the same context.
    pub fn seal_in(&self, context: &[u8], plaintext: &str) -> String {
        let key = &self.keys[0];
        let header = format!("{PREFIX}{}:", key.id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(&header, context);
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            // XChaCha20-Poly1305 fails only for messages over 256 GiB.
            .unwrap_or_default();
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        format!("{header}{}", URL_SAFE_NO_PAD.encode(body))
    }

    /// Opens a stored value; one without the `enc:` prefix is legacy plaintext and comes
    /// back as it is.
    pub fn open(&self, stored: &str) -> Result<String, OpenError> {
        self.open_in(b"", stored)
    }

    /// Opens a value sealed by [`seal_in`](Self::seal_in) with the same `context`.
    pub fn open_in(&self, context: &[u8], stored: &str) -> Result<String, OpenError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, body) = rest.split_once(':').ok_or(OpenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let header = format!("{PREFIX}{id}:");
        let aad = associated_data(&header, context);
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Tampered)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }

    /// Whether `stored` is sealed at all (as opposed to legacy plaintext).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Whether `stored` should be rewritten: legacy plaintext, or sealed with a key other
    /// than the first.
    pub fn needs_reseal(&self, stored: &str) -> bool {
        match stored.strip_prefix(PREFIX) {
            None => true,
            Some(rest) => rest
                .split_once(':')
                .is_none_or(|(id, _)| id != self.primary_id()),
        }
    }

    /// The value sealed with the first key, or `None` when it already is.
    pub fn reseal(&self, stored: &str) -> Result<Option<String>, OpenError> {
        self.reseal_in(b"", stored)
    }

    /// [`reseal`](Self::reseal) for a value bound to `context`.
    pub fn reseal_in(&self, context: &[u8], stored: &str) -> Result<Option<String>, OpenError> {
        if !self.needs_reseal(stored) {
            return Ok(None);
        }
        let plain = self.open_in(context, stored)?;
        Ok(Some(self.seal_in(context, &plain)))
    }
}

fn associated_data(header: &str, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + 1 + context.len());
    aad.extend_from_slice(header.as_bytes());
    aad.push(0);
    aad.extend_from_slice(context);
    aad
}

/// Where the ring's sealing key came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `COURIER_ENCRYPTION_KEY`.
    Configured,
    /// A key kept in the `encryption_keys` table by an earlier start.
    Stored,
    /// A key generated and stored by this start.
    Generated,
}

/// The ring for this process: the configured keys (the first seals) followed by every key
/// in the `encryption_keys` table; without configured keys, the stored key seals, and one
/// is generated (once, under a lock, whichever node starts first) when there is none.
pub async fn load(
    pool: &PgPool,
    configured: Option<&str>,
) -> Result<(KeyRing, KeySource), KeyRingError> {
    let mut keys = match configured {
        Some(raw) => parse_keys(raw)?,
        None => Vec::new(),
    };
    let stored = if keys.is_empty() {
        encryption_keys::load_or_insert(pool, &URL_SAFE.encode(generate_key()), key_id_of_b64)
            .await?
    } else {
        encryption_keys::load(pool).await?
    };
    let mut source = if keys.is_empty() {
        KeySource::Stored
    } else {
        KeySource::Configured
    };
    for (i, row) in stored.keys.iter().enumerate() {
        keys.push(decode_key(&row.key_b64, i + 1)?);
    }
    if stored.inserted {
        source = KeySource::Generated;
    }
    let ring = KeyRing::new(&keys)?;
    if source != KeySource::Configured {
        tracing::warn!(
            key_id = ring.primary_id(),
            "COURIER_ENCRYPTION_KEY is not set: secrets are encrypted with a key stored in the \
             database itself (table encryption_keys). Set COURIER_ENCRYPTION_KEY to a base64 \
             32-byte key (`openssl rand -base64 32`) in production."
        );
    }
    Ok((ring, source))
}

fn key_id_of_b64(b64: &str) -> String {
    decode_key(b64, 1)
        .map(|k| key_id(&k))
        .unwrap_or_else(|_| "invalid".into())
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
