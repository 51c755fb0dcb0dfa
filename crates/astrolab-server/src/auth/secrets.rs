//! Passwords (argon2id), API tokens and session ids.
//!
//! Passwords are low-entropy, so they get a slow salted hash (argon2id,
//! the PHC string stores salt and parameters). Tokens and session ids are
//! 256 random bits, so a SHA-256 of them is enough to make a stolen
//! database useless, and it keeps the per-request check fast.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!("password: at least {MIN_PASSWORD_LEN} characters"));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Checks a password against a stored PHC string (constant time inside
/// argon2). A malformed stored hash verifies nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A fixed dummy hash verified when the user does not exist, so a login
/// for an unknown name costs the same time as a wrong password.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a password of anyone", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let _ = verify_password(password, phc);
}

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of a secret, hex (what the store keeps).
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new API token: `alab_<8 hex prefix>_<64 hex secret>`. The prefix
/// names the token in lists and revocations; only the hash is stored.
pub struct NewToken {
    /// The whole token, shown once.
    pub token: String,
    /// Its public prefix.
    pub prefix: String,
    /// SHA-256 of the whole token.
    pub hash: String,
}

/// Makes a token.
pub fn new_token() -> NewToken {
    let prefix = random_hex(4);
    let token = format!("alab_{prefix}_{}", random_hex(32));
    let hash = sha256_hex(&token);
    NewToken {
        token,
        prefix,
        hash,
    }
}

/// Whether a string has the shape of one of our tokens (cheap check
/// before touching the database).
pub fn looks_like_token(s: &str) -> bool {
    let mut parts = s.splitn(3, '_');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("alab"), Some(p), Some(secret))
            if p.len() == 8 && secret.len() == 64
                && p.bytes().chain(secret.bytes()).all(|b| b.is_ascii_hexdigit())
    )
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn tokens_have_the_documented_shape() {
        let t = new_token();
        assert!(looks_like_token(&t.token), "{}", t.token);
        assert!(t.token.starts_with(&format!("alab_{}_", t.prefix)));
        assert_eq!(t.hash, sha256_hex(&t.token));
        assert_ne!(new_token().token, t.token);
        assert!(!looks_like_token("alab_1234567_abc"));
        assert!(!looks_like_token("' OR 1=1 --"));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
