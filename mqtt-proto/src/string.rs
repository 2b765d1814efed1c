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

    /// Validates the bytes of a Topic Name received from the network: UTF-8, then NUL and
    /// wildcards in one pass ([`nul_and_wildcard`]).
    pub(crate) fn from_topic_bytes(bytes: Bytes) -> Result<Self, Error> {
        let found = nul_and_wildcard(&bytes);
        Self::from_scanned_topic(bytes, found)
    }

    /// Validates the bytes of a string received from the network that [`nul_and_wildcard`]
    /// scanned (`nul`: whether it found a zero byte): UTF-8 first [MQTT-1.5.4-1], then NUL
    /// [MQTT-1.5.4-2], as [`MqttString::from_bytes`]. The two-byte length prefix the bytes came
    /// with kept them within [`MAX_STRING_LEN`].
    #[inline(always)]
    pub(crate) fn from_scanned(bytes: Bytes, nul: bool) -> Result<Self, Error> {
        let s = ByteString::try_from(bytes).map_err(|_| Error::InvalidUtf8)?;
        if nul {
            return Err(Error::NullCharacter);
        }
        Ok(MqttString(s))
    }

    /// [`MqttString::from_topic_bytes`] for bytes already scanned by [`nul_and_wildcard`]
    /// (`found`). UTF-8 is checked first, so a name that breaks several rules is refused for
    /// the same one whichever way it was read.
    #[inline(always)]
    pub(crate) fn from_scanned_topic(bytes: Bytes, found: (bool, bool)) -> Result<Self, Error> {
        // [MQTT-1.5.4-1]
        let s = ByteString::try_from(bytes).map_err(|_| Error::InvalidUtf8)?;
        // [MQTT-1.5.4-2], [MQTT-3.3.2-2]
        if found != (false, false) {
            return Err(topic_error(found));
        }
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
    if bytes.len() <= MAX_STRING_LEN && ascii_without_nul(bytes) {
        return Ok(());
    }
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

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero, and possibly of bytes above a zero one: the
/// result is non-zero exactly when `x` has a zero byte (`(x - 0x01..01) & !x & 0x80..80`).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LOW) & !x & HIGH
}

/// ORs `f` over `bytes` read as little-endian words, eight bytes at a time. The end of the
/// string, and a string shorter than eight bytes, is read with overlapping loads, so every byte
/// of a word is a byte of the string (one seen twice changes no "is there any" test), and no
/// load has a variable length (the compiler turns those into calls to `memcpy`). On the short
/// strings MQTT is made of (topics, client ids, property names) this costs a fraction of a call
/// to `memchr`.
#[inline(always)]
fn fold_words(bytes: &[u8], f: impl Fn(u64) -> u64) -> u64 {
    fn load<const N: usize>(bytes: &[u8]) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&bytes[..N]);
        a
    }
    let len = bytes.len();
    if len >= 8 {
        // Whole words, then the last eight bytes (which may overlap the last word read).
        let mut acc = f(u64::from_le_bytes(load(&bytes[len - 8..])));
        for word in bytes.chunks_exact(8) {
            acc |= f(u64::from_le_bytes(load(word)));
        }
        acc
    } else if len >= 4 {
        let first = u64::from(u32::from_le_bytes(load(bytes)));
        let last = u64::from(u32::from_le_bytes(load(&bytes[len - 4..])));
        f(first | (last << 32))
    } else if len >= 2 {
        let first = u64::from(u16::from_le_bytes(load(bytes)));
        let last = u64::from(u16::from_le_bytes(load(&bytes[len - 2..])));
        let half = first | (last << 16);
        f(half | (half << 32))
    } else if len == 1 {
        f(u64::from(bytes[0]) * LOW)
    } else {
        0
    }
}

/// Whether `bytes` is ASCII without NUL: then it is a valid UTF-8 Encoded String (when not too
/// long) without a UTF-8 decoder.
fn ascii_without_nul(bytes: &[u8]) -> bool {
    fold_words(bytes, |x| x | zero_bytes(x)) & HIGH == 0
}

/// Whether `bytes` holds a zero byte.
fn contains_nul(bytes: &[u8]) -> bool {
    fold_words(bytes, zero_bytes) != 0
}

/// Whether `bytes` holds a zero byte, and whether it holds a wildcard (`+` or `#`): one pass
/// for both checks of a Topic Name received from the network.
#[inline]
pub(crate) fn nul_and_wildcard(bytes: &[u8]) -> (bool, bool) {
    if let (Some((first, _)), Some((_, last))) =
        (bytes.split_first_chunk(), bytes.split_last_chunk())
    {
        if bytes.len() <= 32 {
            return nul_and_wildcard_in_two_blocks(first, last);
        }
    }
    // `+` (0x2B) and `#` (0x23) differ only in bit 3, and no other byte becomes 0x2B when
    // that bit is set: one comparison finds both.
    const BIT3: u64 = LOW * 0x08;
    const PLUS: u64 = LOW * b'+' as u64;
    // Zero bytes flag bit 7 of their byte, wildcards bit 6.
    let found = fold_words(bytes, |x| {
        zero_bytes(x) | (zero_bytes((x | BIT3) ^ PLUS) >> 1)
    });
    (found & HIGH != 0, found & (HIGH >> 1) != 0)
}

/// [`nul_and_wildcard`] for 16 to 32 bytes, the common length of a topic: the first and the
/// last 16 bytes, which may overlap. Written byte by byte over fixed-size blocks, so that the
/// compiler compares each block at once where the target has vectors (SSE2 on every x86-64);
/// a loop of them over longer names would be vectorized across blocks instead, in kilobytes of
/// code, and the word-at-a-time scan does those.
#[inline]
fn nul_and_wildcard_in_two_blocks(first: &[u8; 16], last: &[u8; 16]) -> (bool, bool) {
    let mut lanes = [0u8; 16];
    for ((lane, &a), &b) in lanes.iter_mut().zip(first).zip(last) {
        let nul = u8::from(a == 0) | u8::from(b == 0);
        let wildcard = u8::from(a | 0x08 == b'+') | u8::from(b | 0x08 == b'+');
        *lane = nul | (wildcard << 1);
    }
    let found = u128::from_le_bytes(lanes);
    const LANES: u128 = u128::MAX / 0xFF;
    (found & LANES != 0, found & (LANES << 1) != 0)
}

/// Refuses a Topic Name holding U+0000 [MQTT-1.5.4-2] or a wildcard [MQTT-3.3.2-2], checked in
/// one pass; the UTF-8 check is the caller's.
pub(crate) fn check_topic_nul_and_wildcards(bytes: &[u8]) -> Result<(), Error> {
    match nul_and_wildcard(bytes) {
        (false, false) => Ok(()),
        found => Err(topic_error(found)),
    }
}

/// The error for a Topic Name [`nul_and_wildcard`] found something in: NUL before wildcards.
#[cold]
#[inline(never)]
pub(crate) fn topic_error((nul, _): (bool, bool)) -> Error {
    if nul {
        Error::NullCharacter
    } else {
        Error::WildcardInTopicName
    }
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

    /// Every byte value at every position of strings of 1 to 39 bytes, alone and beside a
    /// second special byte: the word-at-a-time scan agrees with a byte-by-byte one.
    #[test]
    fn finds_nul_and_wildcards_at_every_position() {
        fn bytewise(bytes: &[u8]) -> (bool, bool) {
            (
                bytes.contains(&0),
                bytes.iter().any(|&b| b == b'+' || b == b'#'),
            )
        }
        let mut checked = 0;
        for len in 1..40 {
            for at in 0..len {
                for value in 0..=255u8 {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[at] = value;
                    assert_eq!(
                        nul_and_wildcard(&bytes),
                        bytewise(&bytes),
                        "len {len}, {value:#04x} at {at}"
                    );
                    for (other, second) in [(0, b'#'), (len - 1, 0), (len / 2, b'+')] {
                        bytes[other] = second;
                        assert_eq!(
                            nul_and_wildcard(&bytes),
                            bytewise(&bytes),
                            "len {len}, {value:#04x} at {at}, {second:#04x} at {other}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 256 * (1..40).sum::<usize>());
    }

    /// Every byte value, and a two-byte character, at every position of strings of 0 to 39
    /// bytes: the ASCII fast path of `check_bytes` agrees with a UTF-8 decoder and a byte-by-byte
    /// search for NUL.
    #[test]
    fn checks_strings_as_a_utf8_decoder_does_at_every_position() {
        fn reference(bytes: &[u8]) -> Result<(), Error> {
            match core::str::from_utf8(bytes) {
                Err(_) => Err(Error::InvalidUtf8),
                Ok(_) if bytes.contains(&0) => Err(Error::NullCharacter),
                Ok(_) => Ok(()),
            }
        }
        let mut checked = 0;
        for len in 0..40 {
            assert_eq!(check_bytes(&alloc::vec![b'a'; len]), Ok(()));
            for at in 0..len {
                for value in 0..=255u8 {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[at] = value;
                    assert_eq!(
                        check_bytes(&bytes),
                        reference(&bytes),
                        "len {len}, {value:#04x} at {at}"
                    );
                    checked += 1;
                }
                if at + 1 < len {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[at..at + 2].copy_from_slice("é".as_bytes());
                    assert_eq!(check_bytes(&bytes), Ok(()), "len {len}, é at {at}");
                    bytes[len - 1] = 0;
                    assert_eq!(
                        check_bytes(&bytes),
                        reference(&bytes),
                        "len {len}, é at {at}, NUL last"
                    );
                }
            }
        }
        assert_eq!(checked, 256 * (0..40).sum::<usize>());
    }

    #[test]
    fn rejects_over_65535_bytes() {
        let long = "a".repeat(65_536);
        assert_eq!(MqttString::new(long), Err(Error::StringTooLong(65_536)));
        assert!(MqttString::new("a".repeat(65_535)).is_ok());
    }
}
