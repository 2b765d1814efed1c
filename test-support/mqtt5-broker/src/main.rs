//! The `mqtt5` crate's broker on `127.0.0.1:0`: prints `listening PORT` once bound, so the
//! test that starts it needs no free-port race, and runs until killed. Its session store is
//! the directory given as the first argument (the test's temporary directory).
#![forbid(unsafe_code)]

use mqtt5::broker::config::{BrokerConfig, StorageConfig};
use mqtt5::broker::MqttBroker;

#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "mqtt5-storage".into());
    let mut storage = StorageConfig::default();
    storage.base_dir = dir.into();
    let config = BrokerConfig::default()
        .with_bind_address(([127, 0, 0, 1], 0))
        .with_storage(storage);
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
