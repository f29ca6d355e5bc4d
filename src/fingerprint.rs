//! Short fingerprints of text: the first bytes of its SHA-256, in hex. Enough to tell versions
//! of a profile, a prompt or a story's text apart, and to name a message, without keeping the
//! text itself.

use sha2::{Digest, Sha256};

/// The first `bytes` bytes (at most 32) of `text`'s SHA-256 as lowercase hex.
pub fn sha256_hex(text: &str, bytes: usize) -> String {
    Sha256::digest(text.as_bytes()).iter().take(bytes).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_bytes_of_sha256_in_hex() {
        assert_eq!(super::sha256_hex("abc", 4), "ba7816bf");
        assert_eq!(super::sha256_hex("abc", 64).len(), 64);
    }
}
