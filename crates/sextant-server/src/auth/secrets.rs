//! Making and checking secrets: API tokens (256 bits from the OS's CSPRNG, stored as SHA-256)
//! and passwords (Argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// Every token starts so, which makes a leaked one easy to recognise (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "sxt_";

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// A token's length: the prefix and its bytes in hex.
pub const TOKEN_LENGTH: usize = TOKEN_PREFIX.len() + 2 * TOKEN_BYTES;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest password accepted (Argon2 reads all of it).
const MAX_PASSWORD_BYTES: usize = 1024;

/// A new token: `sxt_` and 256 bits from the operating system's CSPRNG, in hex.
pub fn new_token() -> ApiResult<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("the OS gave no random bytes: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What is stored of a token: its SHA-256, in hex. A token has 256 random bits, so a fast hash
/// is enough (nothing to brute-force), and a lookup by hash is one index probe.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of a Sextant token; the reason when it does not.
pub fn check_shape(token: &str) -> Result<(), &'static str> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Err("Sextant tokens start with \"sxt_\"");
    }
    if token.len() != TOKEN_LENGTH
        || !token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
    {
        return Err("a Sextant token is \"sxt_\" and 64 hexadecimal digits");
    }
    Ok(())
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "the password is too short: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(format!(
            "the password is too long: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A password's Argon2id hash (a PHC string with its own salt and parameters). Slow on purpose:
/// call it off the async runtime.
pub fn hash_password(password: &str) -> ApiResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("the OS gave no random bytes: {e}")))?;
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| ApiError::internal(format!("cannot encode a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(format!("cannot hash a password: {e}")))
}

/// Whether `password` matches `stored`. Without a stored hash (no such user, or no password) a
/// hash is still computed, so the answer takes as long whether the user exists or not.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    let Some(parsed) = stored.and_then(|s| PasswordHash::new(s).ok()) else {
        let _ = hash_password(password);
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Compares two secrets in time that depends on their lengths only.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_recognisable() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LENGTH);
        assert!(check_shape(&a).is_ok());
        assert!(check_shape("sxt_abc").is_err());
        assert!(check_shape(&a.replace("sxt_", "xyz_")).is_err());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
