//! The data representations of section 1.5: integers, Variable Byte Integers, strings and binary
//! data, read from a packet body without copying and written into any `BufMut`.

use bytes::{Buf, BufMut, Bytes};

use crate::error::{EncodeError, Error};
use crate::string::MqttString;

/// The largest value of a Variable Byte Integer, and so of a remaining length (section 1.5.5).
pub const MAX_VARINT: u32 = 268_435_455;
/// The longest UTF-8 Encoded String, in bytes (section 1.5.4).
pub const MAX_STRING_LEN: usize = u16::MAX as usize;
/// The longest Binary Data field, in bytes (section 1.5.6).
pub const MAX_BINARY_LEN: usize = u16::MAX as usize;

/// How many bytes the Variable Byte Integer encoding of `value` takes (1 to 4; values over
/// [`MAX_VARINT`] are not encodable and report 4).
pub const fn varint_len(value: usize) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// Writes `value` (at most [`MAX_VARINT`], checked by the callers) as a Variable Byte Integer.
pub(crate) fn put_varint<B: BufMut>(buf: &mut B, mut value: usize) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

/// Writes `value` (at most [`MAX_VARINT`]) as a Variable Byte Integer at the front of `out`,
/// which has room for four bytes, and returns how many bytes it took.
pub(crate) fn varint_into(out: &mut [u8], mut value: usize) -> usize {
    let mut n = 0;
    for slot in out.iter_mut().take(4) {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        *slot = byte;
        n += 1;
        if value == 0 {
            break;
        }
    }
    n
}

/// The outcome of parsing a Variable Byte Integer from the front of a slice that may be
/// incomplete.
pub(crate) enum VarintPrefix {
    /// The value and how many bytes it took.
    Done(u32, usize),
    /// The slice ends inside the integer.
    Incomplete,
}

/// Parses a Variable Byte Integer from the front of `bytes`, refusing a fifth byte and
/// non-minimal encodings [MQTT-1.5.5-1].
#[inline]
pub(crate) fn parse_varint(bytes: &[u8]) -> Result<VarintPrefix, Error> {
    // One byte: property identifiers and most lengths.
    if let Some(&byte) = bytes.first() {
        if byte & 0x80 == 0 {
            return Ok(VarintPrefix::Done(u32::from(byte), 1));
        }
    }
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A last byte of 0 after the first one means a shorter encoding existed.
            if i > 0 && byte == 0 {
                return Err(Error::MalformedVariableByteInteger);
            }
            return Ok(VarintPrefix::Done(value, i + 1));
        }
    }
    if bytes.len() >= 4 {
        Err(Error::MalformedVariableByteInteger)
    } else {
        Ok(VarintPrefix::Incomplete)
    }
}

/// A cursor over one packet body. Every read checks the length first, so a short body is an
/// [`Error::UnexpectedEnd`], never a panic, and every slice it hands out shares the body's
/// allocation.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes.
    pub(crate) fn peek(&self) -> &[u8] {
        &self.buf
    }

    /// Skips `n` bytes, or all that is left if fewer.
    pub(crate) fn skip(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize) -> Result<(), Error> {
        if self.buf.len() < n {
            Err(Error::UnexpectedEnd)
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self) -> Result<u32, Error> {
        match parse_varint(&self.buf)? {
            VarintPrefix::Done(value, len) => {
                self.buf.advance(len);
                Ok(value)
            }
            VarintPrefix::Incomplete => Err(Error::UnexpectedEnd),
        }
    }

    /// The next `n` bytes as a slice of the body.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, Error> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Everything left, as a slice of the body.
    pub(crate) fn rest(&mut self) -> Bytes {
        core::mem::take(&mut self.buf)
    }

    /// Binary Data: a two-byte length and that many bytes (section 1.5.6).
    pub(crate) fn binary(&mut self) -> Result<Bytes, Error> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 Encoded String (section 1.5.4), validated.
    pub(crate) fn string(&mut self) -> Result<MqttString, Error> {
        MqttString::from_bytes(self.binary()?)
    }

    /// A Topic Name (section 4.7), validated; possibly empty.
    pub(crate) fn topic_name(&mut self) -> Result<crate::TopicName, Error> {
        crate::TopicName::from_bytes(self.binary()?)
    }

    /// A Topic Filter (section 4.7), validated: the string scanned for NUL and wildcards in
    /// place in one pass, before it is sliced off the body.
    #[inline(always)]
    pub(crate) fn topic_filter(&mut self) -> Result<crate::TopicFilter, Error> {
        let len = usize::from(self.u16()?);
        self.need(len)?;
        let (nul, wildcard) = crate::string::nul_and_wildcard(&self.buf[..len]);
        let s = MqttString::from_scanned(self.buf.split_to(len), nul)?;
        crate::TopicFilter::from_scanned(s, wildcard)
    }

    /// Checks a UTF-8 Encoded String (section 1.5.4) and skips it, without taking a
    /// reference to the buffer.
    pub(crate) fn skip_string(&mut self) -> Result<(), Error> {
        let len = usize::from(self.u16()?);
        self.need(len)?;
        crate::string::check_bytes(&self.buf[..len])?;
        self.buf.advance(len);
        Ok(())
    }

    /// The unread bytes in `range` (checked by the caller) as a slice of the body, without
    /// consuming them: one reference-count increment, however the range is cut.
    pub(crate) fn peek_bytes(&self, range: core::ops::Range<usize>) -> Bytes {
        self.buf.slice(range)
    }
}

/// Writes Binary Data (or the bytes of a string): a two-byte length, then the bytes. The
/// length was checked by [`check_binary`] or by the string type.
pub(crate) fn put_binary<B: BufMut>(buf: &mut B, bytes: &[u8]) {
    buf.put_u16(bytes.len() as u16);
    buf.put_slice(bytes);
}

/// Refuses binary data too long for its two-byte length prefix.
pub(crate) fn check_binary(bytes: &[u8]) -> Result<(), EncodeError> {
    if bytes.len() > MAX_BINARY_LEN {
        Err(EncodeError::BinaryTooLong(bytes.len()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn encode(value: usize) -> Vec<u8> {
        let mut v = Vec::new();
        put_varint(&mut v, value);
        v
    }

    // Table of section 1.5.5 (v5) / 2.2.3 (v3.1.1): the boundaries of each length.
    #[test]
    fn varint_spec_boundaries() {
        let table: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(value, bytes) in table {
            assert_eq!(encode(value), bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len());
            match parse_varint(bytes).unwrap() {
                VarintPrefix::Done(v, n) => assert_eq!((v as usize, n), (value, bytes.len())),
                VarintPrefix::Incomplete => panic!("incomplete"),
            }
        }
    }

    #[test]
    fn varint_rejects_five_bytes_and_non_minimal() {
        assert_eq!(
            parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).err(),
            Some(Error::MalformedVariableByteInteger)
        );
        // [MQTT-1.5.5-1]: 0x80 0x00 encodes 0 in two bytes.
        assert_eq!(
            parse_varint(&[0x80, 0x00]).err(),
            Some(Error::MalformedVariableByteInteger)
        );
        assert!(matches!(
            parse_varint(&[0x80, 0x80]),
            Ok(VarintPrefix::Incomplete)
        ));
    }
}
