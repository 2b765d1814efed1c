//! The checksum of the journal's records.

/// CRC-32 tables for eight bytes at a time: `CRC_TABLES[0]` is the byte-at-a-time table of
/// the IEEE polynomial (reflected), `CRC_TABLES[k]` moves a byte's contribution `k` bytes on.
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
};

/// CRC-32 (the IEEE polynomial, reflected, as zlib and Ethernet compute it), eight bytes at a
/// time: a backlog's journal is megabytes.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let byte = |c: u32, b: u8| t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    let mut c = !0u32;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        let at = |x: u32, shift: u32| (x >> shift & 0xFF) as usize;
        c = t[7][at(lo, 0)]
            ^ t[6][at(lo, 8)]
            ^ t[5][at(lo, 16)]
            ^ t[4][at(lo, 24)]
            ^ t[3][at(hi, 0)]
            ^ t[2][at(hi, 8)]
            ^ t[1][at(hi, 16)]
            ^ t[0][at(hi, 24)];
    }
    !words.remainder().iter().fold(c, |c, &b| byte(c, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The check value of CRC-32/ISO-HDLC, and eight bytes at a time agreeing with one byte
    /// at a time at every length and alignment.
    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let bytewise = |bytes: &[u8]| {
            !bytes.iter().fold(!0u32, |c, &b| {
                CRC_TABLES[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
            })
        };
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                assert_eq!(crc32(&data[start..end]), bytewise(&data[start..end]));
            }
        }
    }
}
