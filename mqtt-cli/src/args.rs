//! The command line: mosquitto_pub / mosquitto_sub's flags where they have one, so that their
//! users need no new habits (`-h` is the host, as there; help is `--help`).

use clap::{ArgAction, Args, Parser, Subcommand};
use std::path::PathBuf;

/// `mqtt`: publish, subscribe, request/response and a quick load test, over MQTT 3.1.1 or 5.
#[derive(Debug, Parser)]
#[command(
    name = "mqtt",
    version,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print help.
    #[arg(long, action = ArgAction::Help, global = true)]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(long, action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish messages (like mosquitto_pub).
    Pub(PubArgs),
    /// Subscribe and print what arrives (like mosquitto_sub).
    Sub(SubArgs),
    /// Send a request and print its response (MQTT v5; like mosquitto_rr), or answer requests
    /// with `--serve`.
    Rr(RrArgs),
    /// A quick load test: publishers and a subscriber in this process; prints messages/s and
    /// latency.
    Bench(BenchArgs),
}

/// How to reach and greet the broker: shared by every subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// Broker host.
    #[arg(short = 'h', long, default_value = "localhost")]
    pub host: String,
    /// Broker port (default 1883, or 8883 with TLS).
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
    /// Broker URL instead of -h/-p: mqtt://, mqtts://, ws://, wss://, with user:password@
    /// and, for mqtt(s), a topic as the path.
    #[arg(short = 'L', long)]
    pub url: Option<String>,
    /// Protocol version: mqttv5 (default) or mqttv311.
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv5")]
    pub protocol: String,
    /// Client id (default: mqtt- followed by the process id).
    #[arg(short = 'i', long)]
    pub id: Option<String>,
    /// Client id prefix: the process id is appended.
    #[arg(short = 'I', long = "id-prefix")]
    pub id_prefix: Option<String>,
    /// User name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long)]
    pub pw: Option<String>,
    /// Keep-alive in seconds.
    #[arg(short = 'k', long, default_value_t = 60)]
    pub keepalive: u16,
    /// Keep the session (clean session / clean start off).
    #[arg(short = 'c', long = "disable-clean-session")]
    pub persistent: bool,
    /// Session expiry interval in seconds (v5).
    #[arg(short = 'x', long = "session-expiry-interval")]
    pub session_expiry: Option<u32>,
    /// CA certificates (PEM) to verify the broker with; turns TLS on.
    #[arg(long)]
    pub cafile: Option<PathBuf>,
    /// Client certificate chain (PEM); turns TLS on.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client key (PEM), with --cert.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Do not verify the broker's certificate (testing only); turns TLS on.
    #[arg(long)]
    pub insecure: bool,
    /// Will topic.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// Will payload.
    #[arg(long = "will-payload", default_value = "")]
    pub will_payload: String,
    /// Will QoS.
    #[arg(long = "will-qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub will_qos: u8,
    /// Retain the will.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// A v5 property: -D COMMAND NAME VALUE (user-property takes NAME KEY VALUE), COMMAND
    /// being connect, publish or will. Repeatable.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = ArgAction::Append,
          value_names = ["COMMAND", "NAME", "VALUE"])]
    pub properties: Vec<String>,
    /// Print connection events on stderr.
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// No error messages.
    #[arg(long)]
    pub quiet: bool,
}

/// `mqtt pub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct PubArgs {
    /// Connection.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to publish to.
    #[arg(short = 't', long)]
    pub topic: Option<String>,
    /// The message.
    #[arg(short = 'm', long, group = "source")]
    pub message: Option<String>,
    /// Send this file's contents as the message.
    #[arg(short = 'f', long, group = "source")]
    pub file: Option<PathBuf>,
    /// Send each line of stdin as a message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub lines: bool,
    /// Send all of stdin as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    pub stdin: bool,
    /// Send an empty (null) message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    pub null: bool,
    /// QoS.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long)]
    pub retain: bool,
    /// Publish the message this many times.
    #[arg(long, default_value_t = 1)]
    pub repeat: u64,
    /// Seconds between repeats (see also --rate).
    #[arg(long = "repeat-delay")]
    pub repeat_delay: Option<f64>,
    /// At most this many messages per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Print a JSON summary on stdout when done.
    #[arg(long)]
    pub json: bool,
}

/// `mqtt sub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    /// Connection.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic filters to subscribe to. Repeatable.
    #[arg(short = 't', long = "topic")]
    pub topics: Vec<String>,
    /// Hide messages whose topic matches this filter. Repeatable.
    #[arg(short = 'T', long = "filter-out")]
    pub filter_out: Vec<String>,
    /// QoS of the subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Exit after this many messages.
    #[arg(short = 'C', long)]
    pub count: Option<u64>,
    /// Exit (with status 27, as mosquitto_sub) after this many seconds without the count reached.
    #[arg(short = 'W', long)]
    pub timeout: Option<u64>,
    /// Print the topic before the payload.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Output format, mosquitto_sub's: %t topic, %p payload, %q QoS, %r retain, %l length,
    /// %m packet id, %x/%X hex payload, %j JSON, %I ISO time, %U Unix time, %C content
    /// type, %D correlation data, %E expiry, %R response topic, %P user properties.
    #[arg(short = 'F', long)]
    pub format: Option<String>,
    /// One JSON object per message (topic, qos, retain, payload, properties).
    #[arg(long)]
    pub json: bool,
    /// No newline after each message.
    #[arg(short = 'N', long = "no-newline")]
    pub no_newline: bool,
    /// Do not print retained messages that were stored before we subscribed.
    #[arg(short = 'R', long = "no-stale")]
    pub no_stale: bool,
    /// Print only retained messages (exits at the first live one).
    #[arg(long = "retained-only")]
    pub retained_only: bool,
}

/// `mqtt rr`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RrArgs {
    /// Connection.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The request topic (with --serve: the filter requests arrive on).
    #[arg(short = 't', long)]
    pub topic: String,
    /// The request (with --serve: the response; default: the request echoed).
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Send this file's contents as the request.
    #[arg(short = 'f', long, conflicts_with = "message")]
    pub file: Option<PathBuf>,
    /// QoS of the request (and of the response subscription).
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Seconds to wait for the response (default 10); with --serve, to serve (default: until
    /// -C requests or Ctrl-C).
    #[arg(short = 'W', long)]
    pub timeout: Option<u64>,
    /// Answer requests instead of sending one.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: exit after answering this many requests.
    #[arg(short = 'C', long)]
    pub count: Option<u64>,
    /// Print the response as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mqtt bench`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Connection.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic prefix: publisher n sends to PREFIX/n.
    #[arg(short = 't', long, default_value = "mqtt-bench")]
    pub topic: String,
    /// Messages per publisher.
    #[arg(short = 'C', long, default_value_t = 10_000)]
    pub count: u64,
    /// Publishing clients.
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Payload size in bytes (at least 8: the send time travels in it).
    #[arg(short = 's', long, default_value_t = 64)]
    pub size: usize,
    /// QoS of publishes and subscription.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// At most this many messages per second per publisher.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Give up after this many seconds.
    #[arg(short = 'W', long, default_value_t = 60)]
    pub timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
