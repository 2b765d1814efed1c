//! rmqtt on a free loopback port: prints `listening PORT` once bound, so the test that
//! starts it learns where it listens, and runs until killed. Its retainer plugin (in memory)
//! is registered and started, as rmqttd does by configuration.
#![forbid(unsafe_code)]

use rmqtt::context::ServerContext;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;

#[tokio::main]
async fn main() {
    let scx = ServerContext::new().build().await;
    if let Err(e) = rmqtt_retainer::register(&scx, true, false).await {
        eprintln!("rmqtt: the retainer plugin: {e}");
        std::process::exit(1);
    }
    // rmqtt binds the address it is given: take a free port, and another if someone took it
    // first.
    for _ in 0..5 {
        let Ok(port) = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
        else {
            continue;
        };
        let listener = match Builder::new()
            .name("tcp")
            .laddr(([127, 0, 0, 1], port).into())
            .bind()
            .and_then(|b| b.tcp())
        {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("rmqtt: binding port {port}: {e}");
                continue;
            }
        };
        println!("listening {port}");
        if let Err(e) = MqttServer::new(scx).listener(listener).build().run().await {
            eprintln!("rmqtt: {e}");
            std::process::exit(1);
        }
        return;
    }
    eprintln!("rmqtt: no port could be bound");
    std::process::exit(1);
}
