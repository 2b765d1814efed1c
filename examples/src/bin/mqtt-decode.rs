//! `mqtt-decode`: prints the MQTT packets in a byte stream, one line each.
//!
//! ```text
//! mqtt-decode [--hex] [--protocol 3.1.1|5] [--from client|server] [--max-packet-size N] < bytes
//! ```
//!
//! Reads raw bytes from standard input (or hexadecimal text with `--hex`; white space, commas
//! and `0x` prefixes are ignored), decodes them as the packets that `--from` sends in
//! `--protocol` (default: 5, client), and prints one line per packet: its type name, then its
//! fields. On the first malformed packet, or if the input ends inside a packet, it prints the
//! error with its v5 reason code (e.g. `Malformed Packet (0x81)`) and exits with status 1.

use bytes::BytesMut;
use mqtt_proto::{
    Decoded, Decoder, Packet, ProtocolVersion, PubResponse, ReasonCode, Role, SubscribeFilter,
};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: mqtt-decode [--hex] [--protocol 3.1.1|5] [--from client|server] [--max-packet-size N] < input";

struct Options {
    hex: bool,
    version: ProtocolVersion,
    from: Role,
    max_packet_size: u32,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        hex: false,
        version: ProtocolVersion::V5,
        from: Role::Client,
        max_packet_size: u32::MAX,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--hex" => options.hex = true,
            "--protocol" => {
                options.version = match value("--protocol")?.as_str() {
                    "3.1.1" | "311" | "4" => ProtocolVersion::V311,
                    "5" | "5.0" => ProtocolVersion::V5,
                    other => return Err(format!("unknown protocol version {other:?}")),
                }
            }
            "--from" => {
                options.from = match value("--from")?.as_str() {
                    "client" => Role::Client,
                    "server" => Role::Server,
                    other => return Err(format!("--from takes client or server, not {other:?}")),
                }
            }
            "--max-packet-size" => {
                let v = value("--max-packet-size")?;
                options.max_packet_size = v
                    .parse()
                    .map_err(|_| format!("bad --max-packet-size {v:?}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|word| word.trim_start_matches("0x").trim_start_matches("0X"))
        .collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("not hex: {:?}", &digits[i..i + 2]))
        })
        .collect()
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("mqtt-decode: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("mqtt-decode: reading stdin: {e}");
        return ExitCode::from(2);
    }
    if options.hex {
        match std::str::from_utf8(&input)
            .map_err(|_| "hex input is not text".to_string())
            .and_then(parse_hex)
        {
            Ok(bytes) => input = bytes,
            Err(e) => {
                eprintln!("mqtt-decode: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let decoder =
        Decoder::new(options.version, options.from).with_max_packet_size(options.max_packet_size);
    let mut buf = BytesMut::from(&input[..]);
    let mut out = std::io::stdout().lock();
    let mut offset = 0;
    while !buf.is_empty() {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(packet)) => {
                let _ = writeln!(out, "{}", describe(&packet));
                offset += before - buf.len();
            }
            Ok(Decoded::Incomplete { needed }) => {
                let _ = out.flush();
                eprintln!(
                    "error at byte {offset}: {}: input ends inside a packet ({needed} more bytes needed at least)",
                    ReasonCode::MalformedPacket
                );
                return ExitCode::from(1);
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("error at byte {offset}: {}: {e}", e.reason_code());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// One line: the packet type, then `field=value` pairs.
fn describe(packet: &Packet) -> String {
    let mut line = String::from(packet.packet_type().name());
    let mut field = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(line, " {name}={value}");
    };
    match packet {
        Packet::Connect(c) => {
            field("protocol", &c.protocol_version);
            field("client_id", &quote(&c.client_id));
            field("clean_start", &c.clean_start);
            field("keep_alive", &c.keep_alive);
            if let Some(u) = &c.username {
                field("username", &quote(u));
            }
            if let Some(p) = &c.password {
                field("password", &format!("<{} bytes>", p.len()));
            }
            if let Some(w) = &c.will {
                field("will_topic", &quote(&w.topic));
                field("will_qos", &(w.qos as u8));
                field("will_retain", &w.retain);
                field("will_payload", &payload(&w.payload));
                if !w.properties.is_empty() {
                    field("will_properties", &format!("{:?}", w.properties));
                }
            }
            if !c.properties.is_empty() {
                field("properties", &format!("{:?}", c.properties));
            }
        }
        Packet::ConnAck(a) => {
            field("session_present", &a.session_present);
            field("reason", &a.reason_code);
            if !a.properties.is_empty() {
                field("properties", &format!("{:?}", a.properties));
            }
        }
        Packet::Publish(p) => {
            field("topic", &quote(&p.topic));
            field("qos", &(p.qos() as u8));
            if let Some(id) = p.packet_id() {
                field("packet_id", &id);
            }
            field("retain", &p.retain);
            field("dup", &p.dup);
            field("payload", &payload(&p.payload));
            if !p.properties.is_empty() {
                field("properties", &format!("{:?}", p.properties));
            }
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            ack(a, &mut field)
        }
        Packet::Subscribe(s) => {
            field("packet_id", &s.packet_id);
            for SubscribeFilter { filter, options } in &s.filters {
                field(
                    "filter",
                    &format!(
                        "{}(qos={},no_local={},retain_as_published={},retain_handling={})",
                        quote(filter),
                        options.qos as u8,
                        options.no_local,
                        options.retain_as_published,
                        options.retain_handling as u8
                    ),
                );
            }
            if !s.properties.is_empty() {
                field("properties", &format!("{:?}", s.properties));
            }
        }
        Packet::SubAck(s) => {
            field("packet_id", &s.packet_id);
            field("reasons", &reasons(&s.reason_codes));
            if !s.properties.is_empty() {
                field("properties", &format!("{:?}", s.properties));
            }
        }
        Packet::Unsubscribe(u) => {
            field("packet_id", &u.packet_id);
            for f in &u.filters {
                field("filter", &quote(f));
            }
            if !u.properties.is_empty() {
                field("properties", &format!("{:?}", u.properties));
            }
        }
        Packet::UnsubAck(u) => {
            field("packet_id", &u.packet_id);
            if !u.reason_codes.is_empty() {
                field("reasons", &reasons(&u.reason_codes));
            }
            if !u.properties.is_empty() {
                field("properties", &format!("{:?}", u.properties));
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            field("reason", &d.reason_code);
            if !d.properties.is_empty() {
                field("properties", &format!("{:?}", d.properties));
            }
        }
        Packet::Auth(a) => {
            field("reason", &a.reason_code);
            if !a.properties.is_empty() {
                field("properties", &format!("{:?}", a.properties));
            }
        }
    }
    line
}

fn ack(a: &PubResponse, field: &mut dyn FnMut(&str, &dyn std::fmt::Display)) {
    field("packet_id", &a.packet_id);
    field("reason", &a.reason_code);
    if !a.properties.is_empty() {
        field("properties", &format!("{:?}", a.properties));
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn reasons(codes: &[ReasonCode]) -> String {
    let names: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    format!("[{}]", names.join(", "))
}

/// A payload as quoted text when it is printable UTF-8, else as hex; long ones are cut.
fn payload(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let shown = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN {
        format!("...({} bytes)", bytes.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(shown) {
        Ok(text) if !text.chars().any(|c| c.is_control()) => format!("{text:?}{more}"),
        _ => {
            let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}{more}")
        }
    }
}
