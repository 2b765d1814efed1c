//! How a received message is printed: the payload (`-v` puts the topic first), mosquitto_sub's
//! `-F` format, or one JSON object per line.

use mqtt_tokio::Message;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The message as a JSON object: time, topic, QoS, retain, payload (a string when it is UTF-8,
/// else `payload_hex`), and the v5 properties it carries.
pub fn json(message: &Message) -> Value {
    let publish = message.publish();
    let mut object = Map::new();
    object.insert("tst".into(), Value::String(iso_time(SystemTime::now())));
    object.insert("topic".into(), json!(publish.topic.as_str()));
    object.insert("qos".into(), json!(publish.qos() as u8));
    object.insert("retain".into(), json!(publish.retain));
    object.insert("payloadlen".into(), json!(publish.payload.len()));
    if let Some(id) = publish.packet_id() {
        object.insert("mid".into(), json!(id.get()));
    }
    match std::str::from_utf8(&publish.payload) {
        Ok(text) => object.insert("payload".into(), json!(text)),
        Err(_) => object.insert("payload_hex".into(), json!(hex(&publish.payload, false))),
    };
    let properties = properties_json(message);
    if !properties.is_empty() {
        object.insert("properties".into(), Value::Object(properties));
    }
    Value::Object(object)
}

fn properties_json(message: &Message) -> Map<String, Value> {
    let p = &message.publish().properties;
    let mut out = Map::new();
    if let Some(format) = p.payload_format_indicator {
        out.insert("payload_format_indicator".into(), json!(format as u8));
    }
    if let Some(expiry) = p.message_expiry_interval {
        out.insert("message_expiry_interval".into(), json!(expiry));
    }
    if let Some(ct) = p.content_type() {
        out.insert("content_type".into(), json!(ct.as_str()));
    }
    if let Some(topic) = p.response_topic() {
        out.insert("response_topic".into(), json!(topic.as_str()));
    }
    if let Some(data) = p.correlation_data() {
        out.insert("correlation_data".into(), json!(lossy(&data)));
    }
    let users = p.user_properties();
    if !users.is_empty() {
        let list: Vec<Value> = users
            .iter()
            .map(|u| json!([u.key.as_str(), u.value.as_str()]))
            .collect();
        out.insert("user_properties".into(), Value::Array(list));
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn hex(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = if upper {
            write!(out, "{b:02X}")
        } else {
            write!(out, "{b:02x}")
        };
    }
    out
}

/// `time` as ISO 8601 in UTC with milliseconds (`2026-12-07T21:42:06.123Z`).
pub fn iso_time(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Renders `message` with a mosquitto_sub `-F` format: `%` fields and `\` escapes.
pub fn format(template: &str, message: &Message) -> Vec<u8> {
    let publish = message.publish();
    let p = &publish.properties;
    let mut out = Vec::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('%') => out.push(b'%'),
                Some('t') => out.extend_from_slice(publish.topic.as_str().as_bytes()),
                Some('p') => out.extend_from_slice(&publish.payload),
                Some('q') => out.extend_from_slice((publish.qos() as u8).to_string().as_bytes()),
                Some('r') => out.push(if publish.retain { b'1' } else { b'0' }),
                Some('l') => out.extend_from_slice(publish.payload.len().to_string().as_bytes()),
                Some('m') => {
                    let id = publish.packet_id().map_or(0, |id| id.get());
                    out.extend_from_slice(id.to_string().as_bytes())
                }
                Some('x') => out.extend_from_slice(hex(&publish.payload, false).as_bytes()),
                Some('X') => out.extend_from_slice(hex(&publish.payload, true).as_bytes()),
                Some('j') | Some('J') => {
                    out.extend_from_slice(json(message).to_string().as_bytes())
                }
                Some('I') => out.extend_from_slice(iso_time(SystemTime::now()).as_bytes()),
                Some('U') => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default();
                    let text = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
                    out.extend_from_slice(text.as_bytes())
                }
                Some('C') => {
                    if let Some(ct) = p.content_type() {
                        out.extend_from_slice(ct.as_str().as_bytes())
                    }
                }
                Some('D') => {
                    if let Some(data) = p.correlation_data() {
                        out.extend_from_slice(&data)
                    }
                }
                Some('E') => {
                    if let Some(expiry) = p.message_expiry_interval {
                        out.extend_from_slice(expiry.to_string().as_bytes())
                    }
                }
                Some('R') => {
                    if let Some(topic) = p.response_topic() {
                        out.extend_from_slice(topic.as_str().as_bytes())
                    }
                }
                Some('P') => {
                    let pairs: Vec<String> = p
                        .user_properties()
                        .iter()
                        .map(|u| format!("{}:{}", u.key.as_str(), u.value.as_str()))
                        .collect();
                    out.extend_from_slice(pairs.join(" ").as_bytes())
                }
                Some(other) => {
                    out.push(b'%');
                    push_char(&mut out, other)
                }
                None => out.push(b'%'),
            },
            '\\' => match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('r') => out.push(b'\r'),
                Some('0') => out.push(0),
                Some('a') => out.push(7),
                Some('e') => out.push(0x1b),
                Some('v') => out.push(0x0b),
                Some('\\') => out.push(b'\\'),
                Some(other) => {
                    out.push(b'\\');
                    push_char(&mut out, other)
                }
                None => out.push(b'\\'),
            },
            other => push_char(&mut out, other),
        }
    }
    out
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// The default rendering: the payload, with the topic and a space before it under `-v`.
pub fn plain(message: &Message, verbose: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if verbose {
        out.extend_from_slice(message.topic().as_str().as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(message.payload());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_time_of_known_instants() {
        let at = |s| UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(iso_time(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(at(951_782_400)), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_time(at(1_796_679_726)), "2026-12-07T21:42:06.000Z");
    }

    #[test]
    fn hex_both_cases() {
        assert_eq!(hex(&[0xab, 0x01], false), "ab01");
        assert_eq!(hex(&[0xab, 0x01], true), "AB01");
    }
}
