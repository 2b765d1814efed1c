//! Following a v5 server redirect (section 4.11): a CONNACK or a DISCONNECT with reason 0x9C
//! Use another server or 0x9D Server moved and a Server Reference names where to connect next.
//!
//! Loop protection: a reference to the server the client is on is not followed, and neither
//! is one that would make more than [`MAX_REDIRECTS`] redirects in a row (servers that send
//! the client to each other). Either way the client goes on with the next configured server.
//! The count starts over when a connection ends for any other reason.

use mqtt_session::DisconnectReason;

use crate::options::Server;

/// The most redirects followed in a row.
pub(crate) const MAX_REDIRECTS: u32 = 4;

/// What [`Redirects::ended`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// The connection ended without a redirect.
    None,
    /// Connect to the reference next.
    Follow(String),
    /// Not followed, for this reason: the client goes on with the next configured server
    /// (`next_server`) or, when following is off, as if there had been no redirect.
    Ignore {
        reference: String,
        why: &'static str,
        next_server: bool,
    },
}

/// Where a redirect sends the client, and how many it followed in a row.
#[derive(Debug, Default)]
pub(crate) struct Redirects {
    target: Option<Server>,
    in_a_row: u32,
    /// A redirect was just given up: the driver has moved on to the next server.
    moved_on: bool,
}

impl Redirects {
    /// The server a redirect named, to connect to instead of the configured one.
    pub(crate) fn target(&self) -> Option<&Server> {
        self.target.as_ref()
    }

    /// Whether the server to connect to next is already chosen (a redirect's target, or the
    /// next configured server after a redirect given up), so that the end of a connection
    /// that never got a CONNACK through must not move on to the next server again. Called
    /// once per closed connection.
    pub(crate) fn chose_next(&mut self) -> bool {
        std::mem::take(&mut self.moved_on) || self.target.is_some()
    }

    /// Connecting failed before MQTT began: a redirect's target is given up.
    pub(crate) fn connect_failed(&mut self) {
        self.target = None;
    }

    /// A connection to `current` (the redirect's target, or else the configured server) ended
    /// with `reason`. `follow` is [`Options::follow_server_reference`](crate::Options).
    pub(crate) fn ended(
        &mut self,
        reason: &DisconnectReason,
        configured: &Server,
        follow: bool,
    ) -> Redirect {
        let Some(reference) = reason.server_reference() else {
            self.in_a_row = 0;
            return Redirect::None;
        };
        let current = self.target.clone().unwrap_or_else(|| configured.clone());
        // "host[:port]" (the first of a space-separated list).
        let first = reference.split_whitespace().next().unwrap_or_default();
        let reference = first.to_string();
        let ignore = |why, next_server| Redirect::Ignore {
            reference: first.to_string(),
            why,
            next_server,
        };
        if !follow {
            return ignore("following server references is off", false);
        }
        let Some(server) = parse(first, &current) else {
            self.give_up();
            return ignore("the reference names no host", true);
        };
        if server.host == current.host && server.port == current.port {
            self.give_up();
            return ignore("the reference names the server it came from", true);
        }
        if self.in_a_row >= MAX_REDIRECTS {
            self.give_up();
            return ignore("too many redirects in a row", true);
        }
        self.in_a_row += 1;
        self.target = Some(server);
        Redirect::Follow(reference)
    }

    fn give_up(&mut self) {
        self.target = None;
        self.in_a_row = 0;
        self.moved_on = true;
    }
}

/// The server `reference` ("host", "host:port", "[v6]:port") names: `current` with another
/// host and port (the scheme, and the port when it names none, stay).
fn parse(reference: &str, current: &Server) -> Option<Server> {
    let (host, port) = match reference.rsplit_once(':') {
        // An IPv6 address without a port has colons but no brackets.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            (h, p.parse().unwrap_or(current.port))
        }
        _ => (reference, current.port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    let mut server = current.clone();
    server.host = host.to_string();
    server.port = port;
    Some(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{ConnAckProperties, DisconnectProperties, MqttString, ReasonCode};

    fn server(host: &str, port: u16) -> Server {
        let mut s = Server::parse(&format!("mqtt://{host}:{port}")).unwrap().0;
        s.host = host.into();
        s
    }

    fn connack(reference: &str) -> DisconnectReason {
        DisconnectReason::Refused(
            ReasonCode::UseAnotherServer,
            Box::new(ConnAckProperties {
                server_reference: Some(MqttString::new(reference).unwrap()),
                ..ConnAckProperties::default()
            }),
        )
    }

    fn disconnect(reference: &str) -> DisconnectReason {
        DisconnectReason::Server(
            ReasonCode::ServerMoved,
            Box::new(DisconnectProperties {
                server_reference: Some(MqttString::new(reference).unwrap()),
                ..DisconnectProperties::default()
            }),
        )
    }

    #[test]
    fn references_parse_as_host_and_port() {
        let here = server("a", 1883);
        let at = |r: &str| parse(r, &here).map(|s| (s.host, s.port));
        assert_eq!(at("b"), Some(("b".into(), 1883)));
        assert_eq!(at("b:1884"), Some(("b".into(), 1884)));
        assert_eq!(at("[::1]:1884"), Some(("::1".into(), 1884)));
        assert_eq!(at("::1"), Some(("::1".into(), 1883)));
        assert_eq!(at(":1884"), None);
    }

    /// Two servers that send the client to each other: followed four times in a row, then
    /// the client goes on with the next configured server; the count starts over after a
    /// connection that ended otherwise.
    #[test]
    fn a_redirect_loop_is_left_after_four_hops() {
        let a = server("a", 1);
        let mut redirects = Redirects::default();
        let mut seen = Vec::new();
        for hop in 0..5 {
            let to = if hop % 2 == 0 { "b:2" } else { "a:1" };
            let reason = if hop % 2 == 0 {
                connack(to)
            } else {
                disconnect(to)
            };
            seen.push(redirects.ended(&reason, &a, true));
        }
        assert_eq!(
            seen[..4],
            [0, 1, 2, 3]
                .map(|hop| Redirect::Follow(if hop % 2 == 0 { "b:2" } else { "a:1" }.into()))
        );
        assert!(matches!(
            &seen[4],
            Redirect::Ignore {
                why: "too many redirects in a row",
                next_server: true,
                ..
            }
        ));
        assert!(redirects.target().is_none());
        assert_eq!(
            redirects.ended(&connack("b:2"), &a, true),
            Redirect::Follow("b:2".into())
        );
        assert_eq!(
            redirects.ended(&DisconnectReason::TransportClosed, &a, true),
            Redirect::None
        );
        assert_eq!(redirects.in_a_row, 0);
    }

    /// A reference to the server it came from is not followed; with following off nothing is,
    /// but the reference is still reported.
    #[test]
    fn self_references_and_following_off_are_not_followed() {
        let a = server("a", 1);
        let mut redirects = Redirects::default();
        assert!(matches!(
            redirects.ended(&connack("a:1"), &a, true),
            Redirect::Ignore {
                next_server: true,
                ..
            }
        ));
        assert_eq!(
            redirects.ended(&connack("b"), &a, false),
            Redirect::Ignore {
                reference: "b".into(),
                why: "following server references is off",
                next_server: false
            }
        );
        assert!(redirects.target().is_none());
    }
}
