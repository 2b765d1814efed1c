//! Whether and when the session opens its next connection: the [`Backoff`] policy applied to
//! how the last one ended, and the stop that only the application lifts
//! ([`Session::reconnect`](crate::Session::reconnect)).

use core::time::Duration;
use mqtt_proto::ReasonCode;

use crate::backoff::BackoffState;
use crate::config::Backoff;
use crate::event::ReconnectStop;

/// How a connection (or an attempt at one) ended, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The server never accepted it: the transport failed, no CONNACK came, or the connection
    /// was lost before it.
    Failed,
    /// CONNACK refused it with this reason code.
    Refused(ReasonCode),
    /// CONNACK accepted it; it lasted this long.
    Accepted(Duration),
}

/// What the session does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Connect again after `delay`; `attempt` as reported.
    After { delay: Duration, attempt: u32 },
    /// Wait for the application.
    Stop(ReconnectStop),
}

/// Whether a refusing CONNACK reason code stays the same however often the same CONNECT is
/// sent: the credentials, the client, the protocol version or the CONNECT itself are refused
/// (v5: 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C and 0x81, 0x82, 0x90, 0x95, 0x99, 0x9A, 0x9B; the
/// v3.1.1 return codes 1, 2, 4 and 5 map to 0x84, 0x85, 0x86, 0x87). Anything else, among
/// them 0x88 Server unavailable (v3.1.1 return code 3), 0x89 Server busy, 0x97 Quota
/// exceeded, 0x9F Connection rate exceeded, 0x80 Unspecified error and the redirects 0x9C and
/// 0x9D, may pass.
pub(crate) fn is_permanent_refusal(code: ReasonCode) -> bool {
    matches!(
        code,
        ReasonCode::UnsupportedProtocolVersion
            | ReasonCode::ClientIdentifierNotValid
            | ReasonCode::BadUserNameOrPassword
            | ReasonCode::NotAuthorized
            | ReasonCode::Banned
            | ReasonCode::BadAuthenticationMethod
            | ReasonCode::MalformedPacket
            | ReasonCode::ProtocolError
            | ReasonCode::TopicNameInvalid
            | ReasonCode::PacketTooLarge
            | ReasonCode::PayloadFormatInvalid
            | ReasonCode::RetainNotSupported
            | ReasonCode::QoSNotSupported
    )
}

/// The reconnect decision and its state.
#[derive(Debug, Clone)]
pub(crate) struct Reconnect {
    backoff: BackoffState,
    /// Set while the session waits for the application to ask for a connection.
    stopped: Option<ReconnectStop>,
}

impl Reconnect {
    pub(crate) fn new(seed: u64) -> Self {
        Reconnect {
            backoff: BackoffState::new(seed),
            stopped: None,
        }
    }

    /// Whether the session waits for the application.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// The application asked for a connection (or opened one itself): the stop is lifted.
    /// The backoff keeps its counts, so a refusal that comes again is not retried faster.
    pub(crate) fn allow(&mut self) {
        self.stopped = None;
    }

    /// Counts how a connection ended without deciding anything (the application ended it).
    pub(crate) fn record(&mut self, policy: &Backoff, ended: Ended) {
        if let Ended::Accepted(lasted) = ended {
            self.backoff.accepted(lasted >= policy.stable_after);
        }
    }

    /// A connection or attempt that the application did not end has ended: decides what
    /// comes next.
    pub(crate) fn after(&mut self, policy: &Backoff, ended: Ended) -> Next {
        self.record(policy, ended);
        let stop = match ended {
            Ended::Refused(code) if is_permanent_refusal(code) && !policy.retry_refused => {
                Some(ReconnectStop::Refused(code))
            }
            _ if !policy.enabled => Some(ReconnectStop::Disabled),
            _ => None,
        };
        if let Some(stop) = stop {
            self.stopped = Some(stop);
            return Next::Stop(stop);
        }
        let delay = self.backoff.next_delay(policy);
        Next::After {
            delay,
            attempt: self.backoff.attempt(),
        }
    }
}
