//! Acknowledging received TCP data at once.
//!
//! A client that has read a packet and has nothing to send lets the kernel delay its TCP
//! acknowledgement (up to 40 ms on Linux). A server that writes with Nagle's algorithm on
//! (mosquitto's default) holds its next small packet until that acknowledgement comes: a
//! PUBACK queued behind a PUBLISH it forwarded to us, for one, while our acknowledgement of
//! that PUBLISH waits for the application to take the message. Each turn of such a request and
//! response then takes 40 ms instead of tens of microseconds. The drivers' TCP streams ask the
//! kernel to acknowledge at once after every read that brought data.

/// Asks the kernel to acknowledge what `socket` has received at once (Linux's
/// `TCP_QUICKACK`, which the kernel clears again by itself, hence after every read). A
/// failure changes nothing but timing, so it is ignored; elsewhere this does nothing.
pub fn quickack<S>(socket: &S)
where
    for<'a> socket2::SockRef<'a>: From<&'a S>,
{
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(socket).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = socket;
    }
}
