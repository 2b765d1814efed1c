//! UTF-8 Encoded Strings (section 1.5.4) as validated, zero-copy `Bytes` slices.

use alloc::string::String;
use bytes::Bytes;
use bytestring::ByteString;
use core::{borrow::Borrow, fmt, ops::Deref};

use crate::error::Error;
use crate::wire::MAX_STRING_LEN;

/// A UTF-8 Encoded String as MQTT defines it: well-formed UTF-8 (so no encoded surrogates)
/// [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2], at most 65,535 bytes (v3.1.1: [MQTT-1.5.3-1],
/// [MQTT-1.5.3-2]). Topic names and filters are such strings, so the same holds for them
/// ([MQTT-4.7.3-2], [MQTT-4.7.3-3]).
///
/// Decoded strings share the read buffer; cloning one is a reference-count increment. U+FEFF is
/// kept as it is [MQTT-1.5.4-3] (v3.1.1: [MQTT-1.5.3-3]). Code points the specification only discourages (controls,
/// non-characters) are accepted, as it allows.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MqttString(ByteString);

impl MqttString {
    /// Validates `s` and takes it without copying.
    pub fn new(s: impl Into<ByteString>) -> Result<Self, Error> {
        let s = s.into();
        check(&s)?;
        Ok(MqttString(s))
    }

    /// The empty string.
    pub const fn empty() -> Self {
        MqttString(ByteString::new())
    }

    /// Validates UTF-8 bytes received from the network, keeping them without copying.
    pub(crate) fn from_bytes(bytes: Bytes) -> Result<Self, Error> {
        let s = ByteString::try_from(bytes).map_err(|_| Error::InvalidUtf8)?;
        check(&s)?;
        Ok(MqttString(s))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes (shared, not copied).
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Encoded size: the two-byte length and the bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        2 + self.len()
    }
}

/// The checks of [`MqttString::from_bytes`] on bytes that are not kept.
pub(crate) fn check_bytes(bytes: &[u8]) -> Result<(), Error> {
    check(core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?)
}

fn check(s: &str) -> Result<(), Error> {
    if s.len() > MAX_STRING_LEN {
        return Err(Error::StringTooLong(s.len()));
    }
    if contains_nul(s.as_bytes()) {
        return Err(Error::NullCharacter);
    }
    Ok(())
}

/// Whether `bytes` holds a zero byte: eight bytes at a time (a word has a zero byte exactly
/// when `(x - 0x01..01) & !x & 0x80..80` is non-zero), then the tail. On the short strings MQTT
/// is made of (topics, client ids, property names) this costs a fraction of a call to `memchr`.
fn contains_nul(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut zero = 0;
    for word in &mut words {
        let mut w = [0; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        zero |= x.wrapping_sub(LOW) & !x & HIGH;
    }
    zero != 0
        || words
            .remainder()
            .iter()
            .fold(false, |found, &b| found | (b == 0))
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl TryFrom<&'static str> for MqttString {
    type Error = Error;
    fn try_from(s: &'static str) -> Result<Self, Error> {
        MqttString::new(ByteString::from_static(s))
    }
}

impl TryFrom<String> for MqttString {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        MqttString::new(s)
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of section 1.5.4: "A" followed by U+2A6D4, encoded 0x00 0x05 0x41 0xF0 0xAA
    // 0x9B 0x94.
    #[test]
    fn spec_example_decodes() {
        let mut r = crate::wire::Reader::new(Bytes::from_static(&[
            0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94,
        ]));
        assert_eq!(r.string().unwrap(), "A\u{2A6D4}");
        assert!(r.is_empty());
    }

    #[test]
    fn rejects_null_surrogates_and_bad_utf8() {
        // [MQTT-1.5.4-2]
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(b"a\0b")),
            Err(Error::NullCharacter)
        );
        // [MQTT-1.5.4-1]: U+D800 encoded as UTF-8 (CESU style) is not well-formed.
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(&[0xED, 0xA0, 0x80])),
            Err(Error::InvalidUtf8)
        );
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(&[0xC3])),
            Err(Error::InvalidUtf8)
        );
        // [MQTT-1.5.4-3]: a BOM is kept, not stripped.
        let bom = MqttString::from_bytes(Bytes::from_static("\u{FEFF}x".as_bytes())).unwrap();
        assert_eq!(bom.as_str(), "\u{FEFF}x");
    }

    #[test]
    fn finds_a_nul_at_every_position() {
        for len in 1..40 {
            for at in 0..len {
                let mut bytes = alloc::vec![b'a'; len];
                bytes[at] = 0;
                assert!(contains_nul(&bytes), "len {len}, NUL at {at}");
                // Bytes just above and below zero are not NULs.
                bytes[at] = 0x80;
                assert!(!contains_nul(&bytes), "len {len}, 0x80 at {at}");
                bytes[at] = 0x01;
                assert!(!contains_nul(&bytes), "len {len}, 0x01 at {at}");
            }
        }
    }

    #[test]
    fn rejects_over_65535_bytes() {
        let long = "a".repeat(65_536);
        assert_eq!(MqttString::new(long), Err(Error::StringTooLong(65_536)));
        assert!(MqttString::new("a".repeat(65_535)).is_ok());
    }
}
