//! Proxies (issue 24.1), through the public `Client`, against real proxy servers from
//! Debian's packages started by the tests (tinyproxy for HTTP CONNECT with Basic
//! authentication, microsocks for SOCKS5 with and without a user name and password) in front
//! of mosquitto, and of the embedded rumqttd for WebSocket. That the connection went through
//! the proxy shows three ways: tinyproxy logs the CONNECT, wrong proxy credentials fail the
//! connection, and once the proxy is stopped the client cannot reach the broker that still runs.

use mqtt_client::{Client, ConnectionEvent, Options, Proxies, Proxy, TlsOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::proxy::{ProxyServer, RunningProxy};
use mqtt_test_support::Mosquitto;

use crate::{
    connected, disconnect, next_event, next_message, options, publish, spawn, subscribe, text, url,
    Runtime,
};

fn start(server: ProxyServer, credentials: Option<(&str, &str)>) -> RunningProxy {
    RunningProxy::start(server, credentials).unwrap_or_else(|e| panic!("{e}"))
}

/// A message goes out and comes back through the connection.
async fn round_trip(client: &Client, topic: &str) {
    let mut sub = subscribe(client, topic, QoS::AtLeastOnce).await;
    publish(client, topic, "through the proxy", QoS::AtLeastOnce).await;
    let message = next_message(&mut sub, "the message through the proxy").await;
    assert_eq!(text(&message), "through the proxy");
}

/// The error of the next failed connection attempt.
async fn connect_failure(client: &Client) -> String {
    next_event(client, "the failed attempt", |e| match e {
        ConnectionEvent::ConnectFailed { error, .. } => Some(error.clone()),
        ConnectionEvent::Connected { .. } => panic!("connected"),
        _ => None,
    })
    .await
}

/// The proxy is in the path: once it is gone, the connection drops and the broker, still
/// running, cannot be reached.
async fn gone_with_the_proxy(client: &Client, proxy: RunningProxy) {
    drop(proxy);
    let error = connect_failure(client).await;
    assert!(!error.is_empty());
    disconnect(client).await;
}

/// HTTP CONNECT with Basic authentication (tinyproxy): the right credentials open the tunnel,
/// wrong or missing ones are a clear error.
pub async fn through_an_http_connect_proxy<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let proxy = start(ProxyServer::Tinyproxy, Some(("alice", "s3cret")));
    let http = || Proxy::http("127.0.0.1", proxy.port());
    let id = |what: &str| format!("http-proxy-{what}-{}-{version}", R::NAME);
    let opts =
        |what: &str, proxy: Proxy| options(&url(broker.port()), &id(what), version).proxy(proxy);

    let client = connected(rt, opts("ok", http().credentials("alice", "s3cret"))).await;
    round_trip(&client, "proxy/http").await;
    let log = proxy.log();
    let request = format!("CONNECT 127.0.0.1:{} HTTP/1.1", broker.port());
    assert!(log.contains(&request), "tinyproxy's log: {log}");

    for (what, proxy) in [
        ("wrong", http().credentials("alice", "wrong")),
        ("none", http()),
    ] {
        let refused = spawn(rt, opts(what, proxy));
        let error = connect_failure(&refused).await;
        // tinyproxy answers CONNECT without valid credentials with 401, not 407.
        assert!(error.contains("wants valid credentials"), "{what}: {error}");
        disconnect(&refused).await;
    }
    gone_with_the_proxy(&client, proxy).await;
}

/// SOCKS5 (microsocks), with a user name and password (RFC 1929) or without: the tunnel
/// carries MQTT; wrong or missing credentials are clear errors.
pub async fn through_a_socks5_proxy<R: Runtime>(rt: &R, authenticated: bool) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let credentials = authenticated.then_some(("bob", "pa55"));
    let proxy = start(ProxyServer::Microsocks, credentials);
    let socks = || Proxy::socks5("127.0.0.1", proxy.port());
    let id = |what: &str| format!("socks-{what}-{authenticated}-{}", R::NAME);
    let opts = |what: &str, proxy: Proxy| {
        options(&url(broker.port()), &id(what), ProtocolVersion::V5).proxy(proxy)
    };
    let good = match credentials {
        Some((user, password)) => socks().credentials(user, password),
        None => socks(),
    };
    let client = connected(rt, opts("ok", good)).await;
    round_trip(&client, "proxy/socks").await;
    if authenticated {
        let refused = spawn(rt, opts("wrong", socks().credentials("bob", "wrong")));
        let error = connect_failure(&refused).await;
        assert!(
            error.contains("refused the user name and password"),
            "{error}"
        );
        disconnect(&refused).await;
        let refused = spawn(rt, opts("none", socks()));
        let error = connect_failure(&refused).await;
        assert!(error.contains("none of the offered"), "{error}");
        disconnect(&refused).await;
    }
    gone_with_the_proxy(&client, proxy).await;
}

/// Proxies from the standard variables (given through `Proxies::from_lookup`, as
/// `Options::proxy_from_env` reads them from the process): `HTTP_PROXY` for `mqtt://`,
/// `ALL_PROXY` (SOCKS5) for what it leaves (`mqtts://`: here TLS to mosquitto's TLS listener
/// through microsocks), and `NO_PROXY` for a server reached directly although the proxy named
/// is dead. (`ws://` through `HTTP_PROXY`: [`websocket_through_a_proxy_from_the_environment`].)
pub async fn proxies_from_the_environment<R: Runtime>(rt: &R) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let http = start(ProxyServer::Tinyproxy, Some(("alice", "s3cret")));
    let socks = start(ProxyServer::Microsocks, None);
    let http_url = format!("http://alice:s3cret@127.0.0.1:{}", http.port());
    let socks_url = format!("socks5h://127.0.0.1:{}", socks.port());
    let env = move |vars: Vec<(&'static str, String)>| {
        Proxies::from_lookup(move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let id = |what: &str| format!("env-proxy-{what}-{}", R::NAME);
    let v5 = ProtocolVersion::V5;

    let proxies = env(vec![
        ("HTTP_PROXY", http_url.clone()),
        ("ALL_PROXY", socks_url.clone()),
    ]);
    let opts = options(&url(broker.port()), &id("http"), v5).proxies(proxies.clone());
    let client = connected(rt, opts).await;
    round_trip(&client, "proxy/env").await;
    assert!(
        http.log()
            .contains(&format!("CONNECT 127.0.0.1:{}", broker.port())),
        "{}",
        http.log()
    );
    disconnect(&client).await;

    let tls = mqtt_test_support::tls::tls_broker(&format!("{}-env-proxy", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let tls_url = format!("mqtts://127.0.0.1:{}", tls.tls_port);
    let ca = TlsOptions::new().ca_pem(tls.pki.ca_pem.as_bytes()).unwrap();
    let opts = options(&tls_url, &id("tls"), v5).proxies(proxies).tls(ca);
    let client = connected(rt, opts.unwrap()).await;
    round_trip(&client, "proxy/tls").await;
    disconnect(&client).await;

    // A dead proxy for everything, except the broker's host.
    let dead = format!("http://127.0.0.1:{}", mqtt_test_support::free_port());
    let excepted = env(vec![
        ("all_proxy", dead.clone()),
        ("no_proxy", "localhost,127.0.0.1".into()),
    ]);
    let client = connected(
        rt,
        options(&url(broker.port()), &id("direct"), v5).proxies(excepted),
    )
    .await;
    round_trip(&client, "proxy/direct").await;
    disconnect(&client).await;
    let not_excepted: Options =
        options(&url(broker.port()), &id("dead"), v5).proxies(env(vec![("all_proxy", dead)]));
    let client = spawn(rt, not_excepted);
    connect_failure(&client).await;
    disconnect(&client).await;
    drop(socks);
}

/// `HTTP_PROXY` (given through `Proxies::from_lookup`) for `ws://` too: WebSocket to the
/// embedded rumqttd through the proxy's tunnel.
pub async fn websocket_through_a_proxy_from_the_environment<R: Runtime>(rt: &R) {
    let http = start(ProxyServer::Tinyproxy, Some(("alice", "s3cret")));
    let http_url = format!("http://alice:s3cret@127.0.0.1:{}", http.port());
    let proxies =
        Proxies::from_lookup(move |name| (name == "HTTP_PROXY").then(|| http_url.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
    let ws = mqtt_test_support::embedded::rumqttd("ws").unwrap_or_else(|e| panic!("{e}"));
    let ws_url = format!("ws://127.0.0.1:{}/mqtt", ws.port());
    // rumqttd's WebSocket listener speaks 3.1.1.
    let id = format!("env-proxy-ws-{}", R::NAME);
    let opts = options(&ws_url, &id, ProtocolVersion::V311).proxies(proxies);
    let client = connected(rt, opts).await;
    round_trip(&client, "proxy/ws").await;
    assert!(
        http.log()
            .contains(&format!("CONNECT 127.0.0.1:{}", ws.port())),
        "{}",
        http.log()
    );
    disconnect(&client).await;
}
