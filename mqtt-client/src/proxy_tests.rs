//! Unit tests of the proxy handshakes and the choice of proxy.
#![allow(clippy::unwrap_used)]

use super::*;

/// Runs a handshake against a scripted proxy: `replies` are the proxy's answers, one per
/// message the client writes. Returns what the client wrote and the outcome.
fn run(mut hs: ProxyHandshake, replies: &[&[u8]]) -> (Vec<Vec<u8>>, Result<(), ProxyError>) {
    let mut written = Vec::new();
    let mut replies = replies.iter();
    let mut pending: &[u8] = &[];
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            written.push(out);
            pending = replies.next().copied().unwrap_or(&[]);
        }
        let want = hs.wants();
        if want == 0 {
            return (written, Ok(()));
        }
        let n = want.min(pending.len());
        if let Err(e) = hs.read(&pending[..n]) {
            return (written, Err(e));
        }
        pending = &pending[n..];
    }
}

#[test]
fn http_connect_with_basic_auth() {
    let proxy = Proxy::http("proxy", 3128).credentials("alice", "s3cret");
    let hs = ProxyHandshake::new(&proxy, "broker.example", 8883).unwrap();
    let (written, result) = run(
        hs,
        &[b"HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\n"],
    );
    result.unwrap();
    assert_eq!(
        String::from_utf8(written[0].clone()).unwrap(),
        "CONNECT broker.example:8883 HTTP/1.1\r\nHost: broker.example:8883\r\n\
         Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
    );
}

#[test]
fn http_connect_never_reads_past_the_head() {
    let proxy = Proxy::http("proxy", 3128);
    let mut hs = ProxyHandshake::new(&proxy, "::1", 1883).unwrap();
    assert!(String::from_utf8(hs.take_output())
        .unwrap()
        .starts_with("CONNECT [::1]:1883 HTTP/1.1\r\n"));
    for &b in b"HTTP/1.0 200 OK\r\n\r" {
        assert!(hs.wants() >= 1);
        hs.read(&[b]).unwrap();
    }
    assert_eq!(hs.wants(), 1, "only the last byte of the head");
    hs.read(b"\n").unwrap();
    assert!(hs.is_done());
    assert_eq!(hs.wants(), 0);
}

#[test]
fn http_refusals() {
    let proxy = Proxy::http("proxy", 3128);
    let hs = || ProxyHandshake::new(&proxy, "h", 1).unwrap();
    let (_, r) = run(
        hs(),
        &[b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"],
    );
    assert_eq!(r, Err(ProxyError::AuthenticationRequired(407)));
    let (_, r) = run(hs(), &[b"HTTP/1.0 401 Unauthorized\r\n\r\n"]);
    assert_eq!(r, Err(ProxyError::AuthenticationRequired(401)));
    let (_, r) = run(hs(), &[b"HTTP/1.1 403 Forbidden\r\n\r\n"]);
    assert_eq!(
        r,
        Err(ProxyError::HttpStatus {
            status: 403,
            reason: "Forbidden".into()
        })
    );
    let (_, r) = run(hs(), &[b"SSH-2.0-OpenSSH\r\n\r\n"]);
    assert!(matches!(r, Err(ProxyError::Malformed(_))), "{r:?}");
    let (_, r) = run(hs(), &[b"HTTP/1.1 200"]);
    assert_eq!(r, Err(ProxyError::Closed));
    let endless = vec![b'a'; MAX_HTTP_HEAD + 10];
    let (_, r) = run(hs(), &[&endless]);
    assert!(matches!(r, Err(ProxyError::Malformed(_))), "{r:?}");
}

#[test]
fn socks5_without_authentication() {
    let proxy = Proxy::socks5("proxy", 1080);
    let hs = ProxyHandshake::new(&proxy, "127.0.0.1", 1883).unwrap();
    let (written, r) = run(hs, &[&[5, 0], &[5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34]]);
    r.unwrap();
    assert_eq!(written[0], vec![5, 1, 0]);
    assert_eq!(written[1], vec![5, 1, 0, 1, 127, 0, 0, 1, 0x07, 0x5B]);
}

#[test]
fn socks5_with_user_and_password_and_a_host_name() {
    let proxy = Proxy::socks5("proxy", 1080).credentials("bob", "pw");
    let hs = ProxyHandshake::new(&proxy, "broker", 8883).unwrap();
    let reply: &[u8] = &[5, 0, 0, 3, 4, b'h', b'o', b's', b't', 0, 1];
    let (written, r) = run(hs, &[&[5, 2], &[1, 0], reply]);
    r.unwrap();
    assert_eq!(written[0], vec![5, 2, 0, 2]);
    assert_eq!(written[1], b"\x01\x03bob\x02pw".to_vec());
    assert_eq!(written[2], b"\x05\x01\x00\x03\x06broker\x22\xb3".to_vec());
}

#[test]
fn socks5_refusals() {
    let with_pw = Proxy::socks5("proxy", 1080).credentials("bob", "pw");
    let without = Proxy::socks5("proxy", 1080);
    let hs = |p: &Proxy| ProxyHandshake::new(p, "::1", 1).unwrap();
    let (_, r) = run(hs(&with_pw), &[&[5, 2], &[1, 1]]);
    assert_eq!(r, Err(ProxyError::Socks5Authentication));
    let (_, r) = run(hs(&without), &[&[5, 0xFF]]);
    assert_eq!(r, Err(ProxyError::NoAcceptableMethod));
    let (_, r) = run(hs(&without), &[&[5, 2]]);
    assert_eq!(r, Err(ProxyError::NoAcceptableMethod));
    let (written, r) = run(hs(&without), &[&[5, 0], &[5, 5, 0, 1]]);
    assert_eq!(r, Err(ProxyError::Socks5Reply("connection refused")));
    assert_eq!(written[1][3], 4, "an IPv6 address");
    let (_, r) = run(hs(&without), &[&[4, 0]]);
    assert!(matches!(r, Err(ProxyError::Malformed(_))), "{r:?}");
    let long = "h".repeat(256);
    assert_eq!(
        ProxyHandshake::new(&without, &long, 1).unwrap_err(),
        ProxyError::TooLong("host")
    );
}

#[test]
fn proxy_urls() {
    let p = Proxy::parse("http://alice:s%40cret@proxy.example:3128/").unwrap();
    assert_eq!(
        (p.kind, p.host.as_str(), p.port),
        (ProxyKind::HttpConnect, "proxy.example", 3128)
    );
    assert_eq!(p.credentials, Some(("alice".into(), "s@cret".into())));
    assert!(!format!("{p:?}").contains("s@cret"), "{p:?}");
    let p = Proxy::parse("socks5h://[::1]").unwrap();
    assert_eq!(
        (p.kind, p.host.as_str(), p.port),
        (ProxyKind::Socks5, "::1", 1080)
    );
    let p = Proxy::parse("proxy:8080").unwrap();
    assert_eq!((p.kind, p.port), (ProxyKind::HttpConnect, 8080));
    let e = Proxy::parse("ftp://u:secret@proxy").unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
}

#[test]
fn proxies_from_the_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let server = |url: &str| Server::parse(url).unwrap().0;
    let proxies = Proxies::from_lookup(env(&[
        ("HTTP_PROXY", "http://plain:1"),
        ("https_proxy", "socks5://secure:2"),
        ("HTTPS_PROXY", "http://ignored:9"),
        ("ALL_PROXY", "socks5://all:3"),
        ("no_proxy", "localhost, .internal.example,10.0.0.1"),
    ]))
    .unwrap();
    let host = |url: &str| proxies.for_server(&server(url)).map(|p| p.host.clone());
    assert_eq!(host("mqtt://broker"), Some("plain".into()));
    assert_eq!(host("ws://broker"), Some("plain".into()));
    assert_eq!(host("mqtts://broker"), Some("secure".into()));
    assert_eq!(host("wss://broker"), Some("secure".into()));
    assert_eq!(host("mqtt://localhost"), None);
    assert_eq!(host("mqtt://a.internal.example"), None);
    assert_eq!(host("mqtt://internal.example"), None);
    assert_eq!(host("mqtt://xinternal.example"), Some("plain".into()));
    assert_eq!(host("mqtt://10.0.0.1"), None);

    let only_all = Proxies::from_lookup(env(&[("all_proxy", "socks5://all:3")])).unwrap();
    assert_eq!(
        only_all.for_server(&server("mqtts://b")).map(|p| p.port),
        Some(3)
    );
    let everything_excepted =
        Proxies::from_lookup(env(&[("ALL_PROXY", "all:3"), ("NO_PROXY", "*")])).unwrap();
    assert_eq!(everything_excepted.for_server(&server("mqtt://b")), None);
    assert!(Proxies::from_lookup(env(&[("http_proxy", "")]))
        .unwrap()
        .is_empty());
    assert!(Proxies::from_lookup(env(&[("http_proxy", "gopher://x")])).is_err());
}
