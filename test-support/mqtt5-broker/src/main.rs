//! The `mqtt5` crate's broker on `127.0.0.1:0`: prints `listening PORT` once bound, so the
//! test that starts it needs no free-port race, and runs until killed. Its session store is
//! the directory given as the first argument (the test's temporary directory). With
//! `--scram USER PASSWORD` after it, clients must authenticate with SCRAM-SHA-256 (MQTT v5
//! enhanced authentication) as that user; anonymous clients are refused.
#![forbid(unsafe_code)]

use mqtt5::broker::auth_mechanisms::scram::generate_scram_credential_line_with_iterations;
use mqtt5::broker::config::{AuthConfig, BrokerConfig, StorageConfig};
use mqtt5::broker::MqttBroker;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().cloned().unwrap_or_else(|| "mqtt5-storage".into());
    let mut storage = StorageConfig::default();
    storage.base_dir = dir.clone().into();
    let mut config = BrokerConfig::default()
        .with_bind_address(([127, 0, 0, 1], 0))
        .with_storage(storage);
    if let [_, flag, user, password] = args.as_slice() {
        if flag != "--scram" {
            eprintln!("mqtt5 broker: usage: mqtt5-test-broker DIR [--scram USER PASSWORD]");
            std::process::exit(2);
        }
        let file = std::path::Path::new(&dir).join("scram");
        let written = generate_scram_credential_line_with_iterations(user, password, 10_000)
            .map_err(|e| e.to_string())
            .and_then(|line| {
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&file, format!("{line}\n")))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            eprintln!("mqtt5 broker: SCRAM credentials: {e}");
            std::process::exit(1);
        }
        config = config.with_auth(
            AuthConfig::new()
                .with_scram_file(file)
                .with_allow_anonymous(false),
        );
    }
    let mut broker = match MqttBroker::with_config(config).await {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!("mqtt5 broker: {e}");
            std::process::exit(1);
        }
    };
    match broker.local_addr() {
        Some(addr) => println!("listening {}", addr.port()),
        None => {
            eprintln!("mqtt5 broker: no local address");
            std::process::exit(1);
        }
    }
    if let Err(e) = broker.run().await {
        eprintln!("mqtt5 broker: {e}");
        std::process::exit(1);
    }
}
