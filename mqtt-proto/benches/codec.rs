#![allow(clippy::unwrap_used, clippy::panic)]
//! mqtt-proto against rumqttc 0.25's own codec (`rumqttc::mqttbytes::v4` for v3.1.1,
//! `rumqttc::v5::mqttbytes::v5` for v5), side by side in one run.
//!
//! Every scenario is measured four ways: encode and decode, ours and rumqttc's.
//!
//! * Both libraries of a pair work in the **same buffer** (one `RefCell<BytesMut>`, borrowed the
//!   same way by both closures), so that neither gains from a luckier address or alignment, and
//!   PUBLISH payloads of both point into the same static array. The buffer sits half a page
//!   (modulo 4 KiB) from the bytes copied into it, which keeps "4K aliasing" from moving whole
//!   scenarios by up to 2x between runs (see [`COPY_DISTANCE`]).
//! * **Encode** writes into that buffer, cleared before each operation and with room for the
//!   packet(s), so neither library ever grows it.
//! * **Decode** fills the buffer with copies of the wire bytes (up to 256 KiB, at most 256
//!   copies) outside the timing, then times the decoding of everything in it; the decoded
//!   packets are dropped inside the timed region, so freeing what a decoder allocated counts
//!   too. That is the decoder's work alone, as in a read loop that decodes what one read
//!   brought. **Refill+decode**, the measure of sessions 3 to 9, refills the buffer with one
//!   copy (`buf.extend_from_slice(&wire)`) inside the timing before each operation: at 4 KiB
//!   that copy alone takes about half of rumqttc's decode time, so the row shows the copy more
//!   than the decoder. Once the decoded packets are gone the buffer is unique again and
//!   `extend_from_slice` reuses its storage: the buffer itself costs neither library an
//!   allocation.
//! * The wire bytes come from mqtt-proto and are checked, before anything is timed, to decode
//!   to the same packet with both libraries; encodings are checked to be byte-identical (or, for
//!   v5 packets whose properties the two libraries order differently, of the same length).
//!
//! Besides criterion's report the run prints, at the end, a summary table: for each pair
//! criterion's median estimates of this run (read back from its `estimates.json`), a second
//! opinion from a plain `Instant` loop (the median of interleaved batches: ours, then rumqttc,
//! then ours, ...; the same code inlined at another place can land a few ns apart), the ratios,
//! and heap allocations (`alloc` and `realloc` calls) per operation, counted over 10,000
//! operations outside any timing by the global allocator `mqtt_test_support::gated_alloc::Gated`.
//! That allocator counts only while asked to; the rest of the time it costs one relaxed load
//! per allocation, so that it does not slow down the library that allocates more (an
//! always-counting allocator added ~8 ns per allocation here, ~45 ns to a v5 PUBLISH decode by
//! rumqttc).
//!
//! `cargo bench -p mqtt-sansio-proto --bench codec` (add `-- --quick` for a shorter criterion run;
//! a positional filter restricts criterion as usual and the summary to the scenarios whose
//! `scenario/op` name contains it). Set `CODEC_SUMMARY=0` to skip the summary, or
//! `CODEC_CRITERION=0` to skip criterion and print only the summary (quick A/B comparisons).

use std::cell::RefCell;
use std::hint::black_box;
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use criterion::Criterion;

use mqtt_proto::{
    Decoded, Decoder, Packet, ProtocolVersion, PubResponse, QoS, QosPid, ReasonCode, Role, SubAck,
};
use mqtt_test_support::gated_alloc::{count_allocations, Gated};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

mod common;
use common::*;

#[global_allocator]
static GLOBAL: Gated = Gated;

/// Operations per allocation count.
const ALLOC_OPS: u32 = 10_000;

fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

// ---------------------------------------------------------------------------------------------
// The packets, built once per library.

fn r4_qos(q: QoS) -> rumqttc::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::mqttbytes::QoS::ExactlyOnce,
    }
}

fn r5_qos(q: QoS) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn r4_publish(qos_pid: QosPid, len: usize) -> r4::Publish {
    let mut p = r4::Publish::from_bytes(TOPIC, r4_qos(qos_pid.qos()), payload(len));
    p.pkid = qos_pid.packet_id().map_or(0, NonZeroU16::get);
    p
}

fn r5_publish(qos_pid: QosPid, len: usize, props: bool) -> r5::Publish {
    let properties = props.then(|| r5::PublishProperties {
        message_expiry_interval: Some(EXPIRY),
        content_type: Some(CONTENT_TYPE.to_owned()),
        user_properties: USER_PROPS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    });
    let mut p = r5::Publish::new(TOPIC, r5_qos(qos_pid.qos()), payload(len), properties);
    p.pkid = qos_pid.packet_id().map_or(0, NonZeroU16::get);
    p
}

fn r4_connect() -> r4::Connect {
    let mut c = r4::Connect::new(CLIENT_ID);
    c.keep_alive = 30;
    c.last_will = Some(r4::LastWill::new(
        WILL_TOPIC,
        WILL_PAYLOAD,
        rumqttc::mqttbytes::QoS::AtLeastOnce,
        true,
    ));
    c.set_login(USERNAME, PASSWORD);
    c
}

type R5Connect = (r5::Connect, Option<r5::LastWill>, Option<r5::Login>);

fn r5_connect() -> R5Connect {
    let mut props = r5::ConnectProperties::new();
    props.session_expiry_interval = Some(EXPIRY);
    props.receive_maximum = Some(100);
    let connect = r5::Connect {
        keep_alive: 30,
        client_id: CLIENT_ID.to_owned(),
        clean_start: true,
        properties: Some(props),
    };
    let will = r5::LastWill::new(
        WILL_TOPIC,
        WILL_PAYLOAD,
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        true,
        Some(r5::LastWillProperties {
            delay_interval: Some(10),
            payload_format_indicator: None,
            message_expiry_interval: Some(EXPIRY),
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: Vec::new(),
        }),
    );
    (
        connect,
        Some(will),
        Some(r5::Login::new(USERNAME, PASSWORD)),
    )
}

fn r4_subscribe() -> r4::Subscribe {
    let mut s = r4::Subscribe::new_many(
        FILTERS
            .iter()
            .map(|&(f, q)| r4::SubscribeFilter::new(f.to_owned(), r4_qos(q))),
    );
    s.pkid = 42;
    s
}

fn r5_subscribe() -> r5::Subscribe {
    let mut s = r5::Subscribe::new_many(
        FILTERS.iter().map(|&(f, q)| r5::Filter::new(f, r5_qos(q))),
        None,
    );
    s.pkid = 42;
    s
}

/// The mixed stream a client reads from a server: 16 packets, publishes of QoS 0, 1 and 2 (in
/// v5 two of them with properties), acknowledgements, a PINGRESP and a SUBACK.
fn our_mixed(v: ProtocolVersion) -> Vec<Packet> {
    let publish =
        |q: QosPid, len: usize, props: bool| Packet::Publish(our_publish(v, q, len, props));
    let suback = SubAck {
        packet_id: pid(3),
        reason_codes: vec![
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
        properties: Default::default(),
    };
    vec![
        publish(QosPid::AtMostOnce, 32, false),
        publish(QosPid::AtLeastOnce(pid(1)), 64, true),
        publish(QosPid::ExactlyOnce(pid(2)), 64, false),
        Packet::PubAck(PubResponse::new(pid(10))),
        Packet::PubRec(PubResponse::new(pid(11))),
        Packet::PubRel(PubResponse::new(pid(12))),
        Packet::PubComp(PubResponse::new(pid(13))),
        Packet::PingResp,
        Packet::SubAck(suback),
        publish(QosPid::AtLeastOnce(pid(4)), 128, false),
        publish(QosPid::AtMostOnce, 16, false),
        Packet::PubAck(PubResponse::new(pid(14))),
        publish(QosPid::ExactlyOnce(pid(5)), 256, true),
        Packet::PubRec(PubResponse::new(pid(15))),
        Packet::PubComp(PubResponse::new(pid(16))),
        publish(QosPid::AtLeastOnce(pid(6)), 64, false),
    ]
}

fn r4_mixed() -> Vec<r4::Packet> {
    use r4::Packet as P;
    use rumqttc::mqttbytes::QoS as Q;
    let publish = |q: QosPid, len: usize| P::Publish(r4_publish(q, len));
    vec![
        publish(QosPid::AtMostOnce, 32),
        publish(QosPid::AtLeastOnce(pid(1)), 64),
        publish(QosPid::ExactlyOnce(pid(2)), 64),
        P::PubAck(r4::PubAck::new(10)),
        P::PubRec(r4::PubRec::new(11)),
        P::PubRel(r4::PubRel::new(12)),
        P::PubComp(r4::PubComp::new(13)),
        P::PingResp,
        P::SubAck(r4::SubAck::new(
            3,
            vec![
                r4::SubscribeReasonCode::Success(Q::AtLeastOnce),
                r4::SubscribeReasonCode::Success(Q::ExactlyOnce),
                r4::SubscribeReasonCode::Failure,
            ],
        )),
        publish(QosPid::AtLeastOnce(pid(4)), 128),
        publish(QosPid::AtMostOnce, 16),
        P::PubAck(r4::PubAck::new(14)),
        publish(QosPid::ExactlyOnce(pid(5)), 256),
        P::PubRec(r4::PubRec::new(15)),
        P::PubComp(r4::PubComp::new(16)),
        publish(QosPid::AtLeastOnce(pid(6)), 64),
    ]
}

fn r5_mixed() -> Vec<r5::Packet> {
    use r5::Packet as P;
    use rumqttc::v5::mqttbytes::QoS as Q;
    let publish = |q: QosPid, len: usize, props: bool| P::Publish(r5_publish(q, len, props));
    vec![
        publish(QosPid::AtMostOnce, 32, false),
        publish(QosPid::AtLeastOnce(pid(1)), 64, true),
        publish(QosPid::ExactlyOnce(pid(2)), 64, false),
        P::PubAck(r5::PubAck::new(10, None)),
        P::PubRec(r5::PubRec::new(11, None)),
        P::PubRel(r5::PubRel::new(12, None)),
        P::PubComp(r5::PubComp::new(13, None)),
        P::PingResp(r5::PingResp),
        P::SubAck(r5::SubAck {
            pkid: 3,
            return_codes: vec![
                r5::SubscribeReasonCode::Success(Q::AtLeastOnce),
                r5::SubscribeReasonCode::Success(Q::ExactlyOnce),
                r5::SubscribeReasonCode::Unspecified,
            ],
            properties: None,
        }),
        publish(QosPid::AtLeastOnce(pid(4)), 128, false),
        publish(QosPid::AtMostOnce, 16, false),
        P::PubAck(r5::PubAck::new(14, None)),
        publish(QosPid::ExactlyOnce(pid(5)), 256, true),
        P::PubRec(r5::PubRec::new(15, None)),
        P::PubComp(r5::PubComp::new(16, None)),
        publish(QosPid::AtLeastOnce(pid(6)), 64, false),
    ]
}

// ---------------------------------------------------------------------------------------------
// Decoding everything in a buffer, the way a client's read loop does.

fn ours_decode_one(decoder: &Decoder, wire: &[u8]) -> Packet {
    let mut buf = BytesMut::from(wire);
    match decoder.decode(&mut buf) {
        Ok(Decoded::Packet(p)) if buf.is_empty() => p,
        other => panic!("mqtt-proto: {other:?}"),
    }
}

fn r4_decode_one(wire: &[u8]) -> r4::Packet {
    let mut buf = BytesMut::from(wire);
    let p = r4::Packet::read(&mut buf, usize::MAX).unwrap();
    assert!(buf.is_empty());
    p
}

fn r5_decode_one(wire: &[u8]) -> r5::Packet {
    let mut buf = BytesMut::from(wire);
    let p = r5::Packet::read(&mut buf, None).unwrap();
    assert!(buf.is_empty());
    p
}

fn ours_encode_all(packets: &[Packet], v: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode(v, &mut buf).unwrap();
    }
    buf.to_vec()
}

/// Checks that both encodings are the same bytes, or at least the same length where the two
/// libraries order v5 properties differently (`same_bytes == false`).
fn check_wire(name: &str, ours: &[u8], theirs: &[u8], same_bytes: bool) {
    if same_bytes {
        assert_eq!(ours, theirs, "{name}: encodings differ");
    } else {
        assert_eq!(ours.len(), theirs.len(), "{name}: encoded lengths differ");
    }
}

// ---------------------------------------------------------------------------------------------
// The measurement: criterion, allocation counts and the summary's own timing.

#[derive(Default)]
struct Row {
    name: String,
    /// Criterion's median estimates of this run, when criterion ran.
    criterion_ns: Option<(f64, f64)>,
    ours_ns: f64,
    theirs_ns: f64,
    ours_allocs: f64,
    theirs_allocs: f64,
}

struct Bench {
    criterion: Criterion,
    run_criterion: bool,
    /// Where criterion writes its estimates, when it runs and the summary is printed.
    criterion_home: Option<PathBuf>,
    summary: bool,
    filter: Option<String>,
    rows: Vec<Row>,
}

impl Bench {
    /// Benchmarks one pair of plain operations: each call of a closure is one operation, all
    /// of it timed.
    fn pair<R1, R2>(
        &mut self,
        scenario: &str,
        op: &str,
        ours: impl FnMut() -> R1,
        theirs: impl FnMut() -> R2,
    ) {
        self.timed_pair(scenario, op, Plain(ours), Plain(theirs));
    }

    /// Benchmarks one pair: criterion for both, then (for the summary) allocations per
    /// operation and interleaved timing.
    fn timed_pair(
        &mut self,
        scenario: &str,
        op: &str,
        mut ours: impl Timed,
        mut theirs: impl Timed,
    ) {
        let name = format!("{scenario}/{op}");
        if self.run_criterion {
            let mut group = self.criterion.benchmark_group(&name);
            group.bench_function("mqtt-proto", |b| b.iter_custom(|ops| ours.run(ops)));
            group.bench_function("rumqttc", |b| b.iter_custom(|ops| theirs.run(ops)));
            group.finish();
        }

        if !self.summary
            || self
                .filter
                .as_ref()
                .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        let ours_allocs = allocs_per_op(&mut ours);
        let theirs_allocs = allocs_per_op(&mut theirs);
        let (ours_ns, theirs_ns) = time_pair(&mut ours, &mut theirs);
        let criterion_ns = self.criterion_home.as_deref().and_then(|home| {
            criterion_median(home, &name, "mqtt-proto")
                .zip(criterion_median(home, &name, "rumqttc"))
        });
        self.rows.push(Row {
            name,
            criterion_ns,
            ours_ns,
            theirs_ns,
            ours_allocs,
            theirs_allocs,
        });
    }

    fn print_summary(&self) {
        if self.rows.is_empty() {
            return;
        }
        let width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(8)
            .max(8);
        // Columns: name, two blocks of 9 + 9 + 7 and one of 9 + 9, four spaces between blocks.
        let rule = "-".repeat(width + 2 + 25 + 4 + 25 + 4 + 18);
        println!();
        println!("Summary (ns per operation; allocs per operation over {ALLOC_OPS} operations)");
        println!("  criterion: criterion's median estimate of this run (--quick: rougher)");
        println!(
            "  loop:      median of 31 interleaved ~2 ms batches, ours and rumqttc alternating"
        );
        println!(
            "{:<width$}  {:^25}    {:^25}    {:^18}",
            "", "criterion", "loop", "allocs/op"
        );
        println!(
            "{:<width$}  {:>9}{:>9}{:>7}    {:>9}{:>9}{:>7}    {:>9}{:>9}",
            "scenario", "ours", "rumqttc", "ratio", "ours", "rumqttc", "ratio", "ours", "rumqttc"
        );
        println!("{rule}");
        for r in &self.rows {
            let criterion = match r.criterion_ns {
                Some((ours, theirs)) => {
                    format!("{ours:>9.1}{theirs:>9.1}{:>7.2}", ours / theirs)
                }
                None => format!("{:>9}{:>9}{:>7}", "-", "-", "-"),
            };
            println!(
                "{:<width$}  {criterion}    {:>9.1}{:>9.1}{:>7.2}    {:>9.2}{:>9.2}",
                r.name,
                r.ours_ns,
                r.theirs_ns,
                r.ours_ns / r.theirs_ns,
                r.ours_allocs,
                r.theirs_allocs
            );
        }
        println!("{rule}");
        println!("ratio = ours / rumqttc: below 1 is faster");
    }
}

/// Criterion's median estimate, in ns, of `function` in `group` from the run that just ended,
/// read from `estimates.json` under criterion's output directory `home`.
fn criterion_median(home: &Path, group: &str, function: &str) -> Option<f64> {
    let safe = |s: &str| s.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
    let path = home
        .join(safe(group))
        .join(safe(function))
        .join("new")
        .join("estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    // {"mean":{...},"median":{"confidence_interval":{...},"point_estimate":110.2,...},...}
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

/// Criterion's output directory, found the way criterion finds it: `CRITERION_HOME`, else
/// `criterion` in the cargo target directory (`CARGO_TARGET_DIR`, else what `cargo metadata`
/// reports).
fn criterion_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir).join("criterion"));
    }
    let cargo = std::env::var_os("CARGO")?;
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()?;
    let json = String::from_utf8(output.stdout).ok()?;
    let key = "\"target_directory\":\"";
    let rest = &json[json.find(key)? + key.len()..];
    Some(PathBuf::from(rest[..rest.find('"')?].replace("\\\\", "\\")).join("criterion"))
}

/// One library's side of a pair, as the measurement sees it.
trait Timed {
    /// Runs `ops` operations and returns the time the timed part of them took.
    fn run(&mut self, ops: u64) -> Duration;
    /// Runs `ops` operations and returns the heap allocations (reallocations included) made in
    /// the timed part of them.
    fn allocations(&mut self, ops: u64) -> usize;
}

/// Each call of the closure is one operation, all of it timed.
struct Plain<F>(F);

impl<R, F: FnMut() -> R> Timed for Plain<F> {
    fn run(&mut self, ops: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..ops {
            black_box((self.0)());
        }
        start.elapsed()
    }

    fn allocations(&mut self, ops: u64) -> usize {
        count_allocations(|| {
            for _ in 0..ops {
                black_box((self.0)());
            }
        })
        .1
    }
}

/// Decoding from a buffer already filled: the shared buffer is filled with up to `copies`
/// copies of `wire` (one operation each) outside the timing, then `decode` takes everything
/// in it, timed, the decoded packets dropped in the timed part. This is the decoder's work
/// alone; [`Plain`] decode pairs time the refill too.
struct Filled<'a, F> {
    buf: &'a RefCell<BytesMut>,
    wire: &'a [u8],
    copies: usize,
    /// Packets in one copy of `wire`.
    packets: usize,
    decode: F,
}

impl<F: FnMut(&mut BytesMut) -> usize> Filled<'_, F> {
    /// Runs `ops` operations, passing each timed part (the decoding of one buffer) through
    /// `measure`.
    fn each_fill<M: Default + core::ops::AddAssign>(
        &mut self,
        ops: u64,
        mut measure: impl FnMut(&mut dyn FnMut()) -> M,
    ) -> M {
        let mut total = M::default();
        let mut left = ops;
        while left > 0 {
            let k = left.min(self.copies as u64) as usize;
            let mut buf = self.buf.borrow_mut();
            for _ in 0..k {
                buf.extend_from_slice(self.wire);
            }
            let mut decoded = 0;
            total += measure(&mut || decoded = (self.decode)(&mut buf));
            assert_eq!(decoded, k * self.packets);
            left -= k as u64;
        }
        total
    }
}

impl<F: FnMut(&mut BytesMut) -> usize> Timed for Filled<'_, F> {
    fn run(&mut self, ops: u64) -> Duration {
        self.each_fill(ops, |decode| {
            let start = Instant::now();
            decode();
            start.elapsed()
        })
    }

    fn allocations(&mut self, ops: u64) -> usize {
        self.each_fill(ops, |decode| count_allocations(decode).1)
    }
}

/// Heap allocations (reallocations included) per operation of `t`, after one warm-up
/// operation.
fn allocs_per_op(t: &mut impl Timed) -> f64 {
    t.run(1);
    t.allocations(u64::from(ALLOC_OPS)) as f64 / f64::from(ALLOC_OPS)
}

/// Nanoseconds per operation of `a` and of `b`: the median of 31 batches each, the batches of
/// the two interleaved so that both see the same machine.
fn time_pair(a: &mut impl Timed, b: &mut impl Timed) -> (f64, f64) {
    const BATCHES: usize = 31;
    let target = Duration::from_millis(2);
    let a_ops = calibrate(a, target);
    let b_ops = calibrate(b, target);
    let mut a_ns = Vec::with_capacity(BATCHES);
    let mut b_ns = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        a_ns.push(batch(a, a_ops));
        b_ns.push(batch(b, b_ops));
    }
    (median(&mut a_ns), median(&mut b_ns))
}

fn calibrate(t: &mut impl Timed, target: Duration) -> u64 {
    let mut ops = 1u64;
    loop {
        let elapsed = t.run(ops);
        if elapsed >= target / 4 {
            let per_op = elapsed.as_secs_f64() / ops as f64;
            return ((target.as_secs_f64() / per_op) as u64).max(1);
        }
        ops *= 2;
    }
}

fn batch(t: &mut impl Timed, ops: u64) -> f64 {
    t.run(ops).as_secs_f64() * 1e9 / ops as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

/// Where a copy's destination sits relative to its source, modulo 4 KiB. Loads whose address
/// matches that of a store still in flight in the low 12 bits wait for it ("4K aliasing"), so a
/// copy runs up to twice as slow when the destination lies just past the source modulo 4 KiB.
/// Where heap addresses happen to fall moved whole scenarios, for both libraries alike, by up to
/// 2x from one run to the next; fixing the distance at half a page keeps runs comparable.
const COPY_DISTANCE: usize = 2048;

/// The encode buffer shared by both libraries (so that both write to the same memory), placed
/// at [`COPY_DISTANCE`] from the payloads they copy in.
fn encode_buf(wire_len: usize) -> RefCell<BytesMut> {
    let mut buf = BytesMut::with_capacity(2 * wire_len + 64 + 4096);
    let skip =
        (PAYLOAD.as_ptr() as usize + COPY_DISTANCE).wrapping_sub(buf.as_ptr() as usize) % 4096;
    buf.resize(skip, 0);
    buf.advance(skip);
    RefCell::new(buf)
}

/// The decode buffer shared by both libraries, and a copy of `wire` placed at
/// [`COPY_DISTANCE`] from it. With room for two packets (streams) the buffer is refilled at its
/// start and one packet further on, alternately, the same for both libraries.
fn decode_setup(wire: &[u8]) -> (RefCell<BytesMut>, Vec<u8>, usize) {
    let buf = BytesMut::with_capacity(2 * wire.len() + 64);
    let mut store = vec![0u8; wire.len() + 4096];
    let at = (buf.as_ptr() as usize + COPY_DISTANCE).wrapping_sub(store.as_ptr() as usize) % 4096;
    store[at..at + wire.len()].copy_from_slice(wire);
    (RefCell::new(buf), store, at)
}

/// Encode benchmark: each closure writes its library's packet(s) into the cleared shared
/// buffer.
fn encode_pair(
    bench: &mut Bench,
    scenario: &str,
    op: &str,
    wire_len: usize,
    mut ours: impl FnMut(&mut BytesMut),
    mut theirs: impl FnMut(&mut BytesMut),
) {
    let buf = encode_buf(wire_len);
    bench.pair(
        scenario,
        op,
        || {
            let mut buf = buf.borrow_mut();
            buf.clear();
            ours(&mut buf);
            buf.len()
        },
        || {
            let mut buf = buf.borrow_mut();
            buf.clear();
            theirs(&mut buf);
            buf.len()
        },
    );
}

/// Decode benchmark of `wire` (holding `count` packets) by both libraries from the shared
/// buffer, refilled the same way before each decode.
fn decode_pair(
    bench: &mut Bench,
    scenario: &str,
    v: ProtocolVersion,
    from: Role,
    wire: &[u8],
    count: usize,
) {
    let decoder = Decoder::new(v, from);
    against_rumqttc_filled(bench, scenario, "decode", v, wire, count, |buf| {
        ours_decode_all(&decoder, buf)
    });
    against_rumqttc_decode(bench, scenario, "refill+decode", v, wire, |buf| {
        ours_decode_all(&decoder, buf)
    });
    // Every decode saw the whole stream.
    let mut buf = BytesMut::from(wire);
    assert_eq!(ours_decode_all(&decoder, &mut buf), count);
}

/// Times `ours` as operation `op` against rumqttc's decoder of version `v`, both working on the
/// shared buffer refilled with `wire` before each call (see [`decode_setup`]).
fn against_rumqttc_decode<R>(
    bench: &mut Bench,
    scenario: &str,
    op: &str,
    v: ProtocolVersion,
    wire: &[u8],
    mut ours: impl FnMut(&mut BytesMut) -> R,
) {
    let (buf, store, at) = decode_setup(wire);
    let wire = &store[at..at + wire.len()];
    let theirs = rumqttc_decode_all(v);
    let refilled = || {
        let mut buf = buf.borrow_mut();
        buf.extend_from_slice(wire);
        buf
    };
    bench.pair(
        scenario,
        op,
        || ours(&mut refilled()),
        || theirs(&mut refilled()),
    );
}

/// Times `ours` as operation `op` against rumqttc's decoder of version `v`, both decoding
/// everything in the shared buffer after it was filled, outside the timing, with copies of
/// `wire` (`packets` packets each): up to 256 KiB of them, which stays in this machine's
/// caches, and at most 256 (see [`Filled`]).
fn against_rumqttc_filled(
    bench: &mut Bench,
    scenario: &str,
    op: &str,
    v: ProtocolVersion,
    wire: &[u8],
    packets: usize,
    ours: impl FnMut(&mut BytesMut) -> usize,
) {
    let copies = (256 * 1024 / wire.len()).clamp(1, 256);
    let buf = RefCell::new(BytesMut::with_capacity(copies * wire.len() + 64));
    let theirs = rumqttc_decode_all(v);
    let ours = Filled {
        buf: &buf,
        wire,
        copies,
        packets,
        decode: ours,
    };
    let theirs = Filled {
        buf: &buf,
        wire,
        copies,
        packets,
        decode: theirs,
    };
    bench.timed_pair(scenario, op, ours, theirs);
}

/// The floor under any codec, next to rumqttc's codec: `encode floor` copies the finished
/// packet into the buffer, its head (all but the payload) from a copy and the payload from
/// where the encoders take it (what any encoder must at least write), `decode floor` splits
/// each packet off the filled buffer as one shared `Bytes` (what any zero-copy decoder must at
/// least do) and drops it, `refill+decode floor` does the same after refilling the buffer in
/// the timing. A ratio target for a scenario below its floor's ratio cannot be met by any
/// codec.
fn floor_pairs(
    bench: &mut Bench,
    scenario: &str,
    v: ProtocolVersion,
    wire: &[u8],
    payload_len: usize,
    theirs_encode: impl FnMut(&mut BytesMut),
) {
    let head = &wire[..wire.len() - payload_len];
    encode_pair(
        bench,
        scenario,
        "encode floor",
        wire.len(),
        |buf: &mut BytesMut| {
            buf.extend_from_slice(head);
            buf.extend_from_slice(&PAYLOAD[..payload_len]);
        },
        theirs_encode,
    );
    let packet_len = wire.len();
    against_rumqttc_filled(bench, scenario, "decode floor", v, wire, 1, |buf| {
        let mut n = 0;
        while !buf.is_empty() {
            black_box(buf.split_to(packet_len).freeze());
            n += 1;
        }
        n
    });
    against_rumqttc_decode(bench, scenario, "refill+decode floor", v, wire, |buf| {
        let len = buf.len();
        buf.split_to(len).freeze()
    });
}

fn encode_r4(p: &r4::Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    p.write(&mut buf, usize::MAX).unwrap();
    buf.to_vec()
}

fn encode_r5(p: &r5::Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    p.write(&mut buf, None).unwrap();
    buf.to_vec()
}

/// PUBLISH QoS 1, 25-byte topic, `len`-byte payload (v5: with message expiry, content type and
/// two user properties).
fn publish_scenario(bench: &mut Bench, v: ProtocolVersion, len: usize) {
    let scenario = format!("publish_qos1_{}_{}", size_name(len), version_name(v));
    let qos_pid = QosPid::AtLeastOnce(pid(7));
    let ours = our_publish(v, qos_pid, len, true);
    let wire = ours_encode_all(&[Packet::Publish(ours.clone())], v);
    let decoder = Decoder::new(v, Role::Server);
    assert_eq!(
        ours_decode_one(&decoder, &wire),
        Packet::Publish(ours.clone())
    );
    let encode_ours = |buf: &mut BytesMut| {
        ours.encode(v, buf).unwrap();
    };
    // Same bytes (v5: same length, and each decodes the other's encoding to the same packet).
    match v {
        ProtocolVersion::V311 => {
            let theirs = r4_publish(qos_pid, len);
            let theirs_wire = encode_r4(&r4::Packet::Publish(theirs.clone()));
            check_wire(&scenario, &wire, &theirs_wire, true);
            assert_eq!(r4_decode_one(&wire), r4::Packet::Publish(theirs.clone()));
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                theirs.write(buf).unwrap();
            });
            floor_pairs(bench, &scenario, v, &wire, len, |buf| {
                theirs.write(buf).unwrap();
            });
        }
        ProtocolVersion::V5 => {
            let theirs = r5_publish(qos_pid, len, true);
            let theirs_wire = encode_r5(&r5::Packet::Publish(theirs.clone()));
            check_wire(&scenario, &wire, &theirs_wire, false);
            assert_eq!(
                ours_decode_one(&decoder, &theirs_wire),
                Packet::Publish(ours.clone())
            );
            assert_eq!(r5_decode_one(&wire), r5::Packet::Publish(theirs.clone()));
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                theirs.write(buf).unwrap();
            });
            floor_pairs(bench, &scenario, v, &wire, len, |buf| {
                theirs.write(buf).unwrap();
            });
        }
    }
    decode_pair(bench, &scenario, v, Role::Server, &wire, 1);
}

fn size_name(len: usize) -> String {
    if len >= 1024 {
        format!("{}KiB", len / 1024)
    } else {
        format!("{len}B")
    }
}

/// CONNECT with a will (QoS 1, retained), user name and password; v5 with session expiry,
/// receive maximum, and will delay and message expiry on the will.
fn connect_scenario(bench: &mut Bench, v: ProtocolVersion) {
    let scenario = format!("connect_{}", version_name(v));
    let ours = our_connect(v);
    let wire = ours_encode_all(&[Packet::from(ours.clone())], v);
    let decoder = Decoder::new(v, Role::Client);
    assert_eq!(ours_decode_one(&decoder, &wire), Packet::from(ours.clone()));
    let encode_ours = |buf: &mut BytesMut| {
        ours.encode(v, buf).unwrap();
    };
    match v {
        ProtocolVersion::V311 => {
            let theirs = r4_connect();
            let theirs_wire = encode_r4(&r4::Packet::Connect(theirs.clone()));
            check_wire(&scenario, &wire, &theirs_wire, true);
            assert_eq!(r4_decode_one(&wire), r4::Packet::Connect(theirs.clone()));
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                theirs.write(buf).unwrap();
            });
        }
        ProtocolVersion::V5 => {
            let (c, will, login) = r5_connect();
            let theirs_wire =
                encode_r5(&r5::Packet::Connect(c.clone(), will.clone(), login.clone()));
            check_wire(&scenario, &wire, &theirs_wire, false);
            assert_eq!(
                ours_decode_one(&decoder, &theirs_wire),
                Packet::from(ours.clone())
            );
            assert_eq!(
                r5_decode_one(&wire),
                r5::Packet::Connect(c.clone(), will.clone(), login.clone())
            );
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                c.write(&will, &login, buf).unwrap();
            });
        }
    }
    decode_pair(bench, &scenario, v, Role::Client, &wire, 1);
}

/// SUBSCRIBE with three filters of QoS 1, 2 and 0, no properties.
fn subscribe_scenario(bench: &mut Bench, v: ProtocolVersion) {
    let scenario = format!("subscribe_3_filters_{}", version_name(v));
    let ours = our_subscribe();
    let wire = ours_encode_all(&[Packet::Subscribe(ours.clone())], v);
    let decoder = Decoder::new(v, Role::Client);
    assert_eq!(
        ours_decode_one(&decoder, &wire),
        Packet::Subscribe(ours.clone())
    );
    let encode_ours = |buf: &mut BytesMut| {
        ours.encode(v, buf).unwrap();
    };
    match v {
        ProtocolVersion::V311 => {
            let theirs = r4_subscribe();
            let theirs_wire = encode_r4(&r4::Packet::Subscribe(theirs.clone()));
            check_wire(&scenario, &wire, &theirs_wire, true);
            assert_eq!(r4_decode_one(&wire), r4::Packet::Subscribe(theirs.clone()));
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                theirs.write(buf).unwrap();
            });
        }
        ProtocolVersion::V5 => {
            let theirs = r5_subscribe();
            let theirs_wire = encode_r5(&r5::Packet::Subscribe(theirs.clone()));
            check_wire(&scenario, &wire, &theirs_wire, true);
            assert_eq!(r5_decode_one(&wire), r5::Packet::Subscribe(theirs.clone()));
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                theirs.write(buf).unwrap();
            });
        }
    }
    decode_pair(bench, &scenario, v, Role::Client, &wire, 1);
}

/// 16 packets from a server: encoded one after the other into one buffer (through each
/// library's packet enum), and decoded in one go from one buffer.
fn mixed_scenario(bench: &mut Bench, v: ProtocolVersion) {
    let scenario = format!("mixed_16_{}", version_name(v));
    let ours = our_mixed(v);
    let wire = ours_encode_all(&ours, v);
    let decoder = Decoder::new(v, Role::Server);
    let mut buf = BytesMut::from(&wire[..]);
    for p in &ours {
        match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(d)) => assert_eq!(&d, p),
            other => panic!("{other:?}"),
        }
    }
    let encode_ours = |buf: &mut BytesMut| {
        for p in &ours {
            p.encode(v, buf).unwrap();
        }
    };
    match v {
        ProtocolVersion::V311 => {
            let theirs = r4_mixed();
            let theirs_wire: Vec<u8> = theirs.iter().flat_map(encode_r4).collect();
            check_wire(&scenario, &wire, &theirs_wire, true);
            let mut buf = BytesMut::from(&wire[..]);
            for p in &theirs {
                assert_eq!(&r4::Packet::read(&mut buf, usize::MAX).unwrap(), p);
            }
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                for p in &theirs {
                    p.write(buf, usize::MAX).unwrap();
                }
            });
        }
        ProtocolVersion::V5 => {
            let theirs = r5_mixed();
            let theirs_wire: Vec<u8> = theirs.iter().flat_map(encode_r5).collect();
            check_wire(&scenario, &wire, &theirs_wire, false);
            let mut buf = BytesMut::from(&wire[..]);
            for p in &theirs {
                assert_eq!(&r5::Packet::read(&mut buf, None).unwrap(), p);
            }
            encode_pair(bench, &scenario, "encode", wire.len(), encode_ours, |buf| {
                for p in &theirs {
                    p.write(buf, None).unwrap();
                }
            });
        }
    }
    decode_pair(bench, &scenario, v, Role::Server, &wire, 16);
}

/// Keeps the CPU busy for `time`.
fn warm_up_cpu(time: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < time {
        for i in 0..10_000u64 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
    }
    black_box(x);
}

/// The positional filter criterion was given, if any (a substring for the summary).
fn positional_filter() -> Option<String> {
    const TAKES_VALUE: &[&str] = &[
        "--color",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--format",
        "--profile-time",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if TAKES_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    // `cargo bench` passes --bench; `cargo test --benches` does not and only smoke-tests.
    let summary = has("--bench")
        && !has("--list")
        && !has("--profile-time")
        && std::env::var("CODEC_SUMMARY").map_or(true, |v| v != "0");
    let criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(30)
        .configure_from_args();
    let run_criterion = std::env::var("CODEC_CRITERION").map_or(true, |v| v != "0");
    let mut bench = Bench {
        criterion,
        run_criterion,
        criterion_home: if run_criterion && summary {
            criterion_home()
        } else {
            None
        },
        summary,
        filter: positional_filter(),
        rows: Vec::new(),
    };

    // The first benchmark of a run otherwise measures a cold CPU (clock, caches, page faults):
    // it came out at twice its steady-state time.
    warm_up_cpu(Duration::from_millis(500));

    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        publish_scenario(&mut bench, v, 64);
        publish_scenario(&mut bench, v, 4096);
    }
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        connect_scenario(&mut bench, v);
        subscribe_scenario(&mut bench, v);
        mixed_scenario(&mut bench, v);
    }

    bench.criterion.final_summary();
    bench.print_summary();
}
