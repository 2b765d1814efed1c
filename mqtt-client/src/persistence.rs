//! The session store, as a connection task uses it: the session loaded at the start, and after
//! every turn the write that brings the store up to date (the changes appended to its journal,
//! or the journal written whole), run by the loop as a [`SaveJob`].
//!
//! With a store, a QoS 1/2 publish is accepted only once a write that holds it is done. A write
//! that only new publishes wait for (nothing the loop sends depends on it) waits
//! [`SAVE_WINDOW`] for more of them, so that a burst shares one write and one sync (group
//! commit). This part owns the journal, the write under way, that window, and the publishes
//! each write makes durable; the driver hands it the session and is told what to do.

use bytes::Bytes;
use mqtt_proto::{PacketId, ProtocolVersion};
use mqtt_session::{Config, Journal, JournalWrite, PublishId, Session};
use std::sync::Arc;
use std::time::Instant;

use crate::completion::Accepted;
use crate::store::{StartError, Store};

/// One write to the session store (see [`Step::Save`](crate::Step::Save)): the changes a turn
/// made, or the whole journal.
#[derive(Debug)]
pub struct SaveJob {
    store: Arc<dyn Store>,
    bytes: Vec<u8>,
    replace: bool,
    holds_output: bool,
}

impl SaveJob {
    /// Whether the loop writes nothing of its outputs until this write is done: what they
    /// hold depends on it (a QoS 2 publish's packet identifier or release, the QoS 2 packet
    /// identifiers received, subscriptions; see [`Journal::urgent`]). Otherwise they may go
    /// out while it runs: a crash then sends a QoS 1 message again, or a PUBREL, which the
    /// MQTT flows allow. Publishes are accepted once the write holding them is done either
    /// way.
    pub fn holds_output(&self) -> bool {
        self.holds_output
    }

    /// Writes to the store, blocking until it is done ([`Store::save`] or [`Store::append`]:
    /// file I/O and an `fsync` for a [`crate::FileStore`]). A store that panics is a store
    /// that failed: `None`, which [`Driver::saved`](crate::Driver::saved) takes as such.
    pub fn run(self) -> Option<Saved> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let result = if self.replace {
                self.store.save(&self.bytes)
            } else {
                self.store.append(&self.bytes)
            };
            Saved {
                result,
                bytes: self.bytes,
            }
        }))
        .ok()
    }

    /// How many bytes it writes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it writes nothing (never: a save with nothing to write is not made).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// What a [`SaveJob`] did, for [`Driver::saved`](crate::Driver::saved).
#[derive(Debug)]
pub struct Saved {
    result: std::io::Result<()>,
    /// The job's buffer, used again for the next one.
    bytes: Vec<u8>,
}

/// How long a write that only new publishes wait for (nothing sent depends on it) waits for
/// more of them: the publishes of a burst share one write and one sync (group commit) instead
/// of the first going alone. Their callers learn they were accepted that much later.
pub(crate) const SAVE_WINDOW: std::time::Duration = std::time::Duration::from_millis(1);

/// The most capacity a driver keeps in its store write buffer between writes.
pub(crate) const SAVE_BUF_KEEP: usize = 64 * 1024;

/// What [`Persistence::persist`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persist {
    /// The store holds the session as it is, or what it lacks may go out before it does.
    Done,
    /// The store holds the session as it is, and nothing changed since the last write: every
    /// change a write took is on disk.
    Unchanged,
    /// The last write failed.
    Failed,
    /// A write is to be made first.
    Save,
    /// As [`Persist::Save`], with a write made just now that holds every change so far.
    Made,
}

/// A driver's session store and what it knows of the store's contents.
#[derive(Debug)]
pub(crate) struct Persistence {
    store: Arc<dyn Store>,
    /// What the store holds and what to write to it next.
    journal: Journal,
    /// The write the loop is to run next (see [`Step::Save`](crate::Step::Save)).
    job: Option<SaveJob>,
    /// A write the loop took is running: the next is made once it is done.
    running: bool,
    /// When the write that new publishes wait for is made, at the latest (see
    /// [`SAVE_WINDOW`]).
    due: Option<Instant>,
    /// The last write failed: the next step drops the outputs and closes the connection.
    failed: bool,
    /// The buffer of the last job, for the next one.
    buf: Vec<u8>,
    /// Publishes the session took that are not yet on disk, and those the running write
    /// holds. Their callers learn they were accepted once it is done.
    unsaved: Vec<Accepted>,
    saving: Vec<Accepted>,
}

impl Persistence {
    /// What a driver knows of `store` before its first write: nothing (the first write is the
    /// whole journal).
    pub(crate) fn new(store: Arc<dyn Store>) -> Persistence {
        Persistence {
            store,
            journal: Journal::new(),
            job: None,
            running: false,
            due: None,
            failed: false,
            buf: Vec::new(),
            unsaved: Vec::new(),
            saving: Vec::new(),
        }
    }

    /// The session took a QoS 1/2 publish: it is accepted once a write that holds it is done
    /// (see [`Persistence::saved`]).
    pub(crate) fn took(&mut self, id: PublishId, packet_id: Option<PacketId>) {
        self.unsaved.push((id, packet_id));
    }

    /// Whether the store holds the session as it is. If not, makes the write that brings it
    /// there (what changed since the last save appended to the store's journal, or the
    /// journal written whole: the first time, after a failure, and once the changes add up;
    /// see [`Journal`]) for the loop to run ([`Step::Save`](crate::Step::Save)). `closing`:
    /// the connection task is finishing, so that nothing waits for the group-commit window.
    pub(crate) fn persist(
        &mut self,
        session: &mut Session<Instant>,
        closing: bool,
        now: Instant,
    ) -> Persist {
        if std::mem::take(&mut self.failed) {
            return Persist::Failed;
        }
        if self.job.is_some() {
            return Persist::Save;
        }
        let urgent = self.journal.urgent(session);
        if self.running {
            // Outputs that depend on a change wait for the write running and the next one,
            // which holds the change; others go on.
            return if urgent { Persist::Save } else { Persist::Done };
        }
        if !urgent && !closing && !self.unsaved.is_empty() {
            let due = *self.due.get_or_insert(now + SAVE_WINDOW);
            if now < due {
                return Persist::Done;
            }
        }
        self.due = None;
        let (bytes, replace) = match self.journal.write_session(session) {
            JournalWrite::Unchanged => return Persist::Unchanged,
            JournalWrite::Replace(bytes) => (bytes, true),
            JournalWrite::Append(bytes) => (bytes, false),
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(bytes);
        // Every publish taken so far is in this write: one write and one sync for all of
        // them (group commit).
        self.saving.append(&mut self.unsaved);
        self.job = Some(SaveJob {
            store: self.store.clone(),
            bytes: buf,
            replace,
            holds_output: urgent,
        });
        Persist::Made
    }

    /// The write a loop is to run after [`Step::Save`](crate::Step::Save).
    pub(crate) fn take_save(&mut self) -> Option<SaveJob> {
        let job = self.job.take()?;
        self.running = true;
        Some(job)
    }

    /// Whether a write the loop took is not done yet.
    pub(crate) fn running(&self) -> bool {
        self.running
    }

    /// When the write that new publishes wait for is to be made.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The outcome of the [`SaveJob`] from [`Persistence::take_save`] (`None`: it did not
    /// finish). Done, it gives the publishes it made durable, for their callers to learn they
    /// were accepted. Failed, it gives the error: the next [`Persistence::persist`] reports
    /// [`Persist::Failed`], and the write after it is the whole journal, with those publishes.
    pub(crate) fn saved(
        &mut self,
        saved: Option<Saved>,
    ) -> Result<std::vec::Drain<'_, Accepted>, std::io::Error> {
        self.running = false;
        let result = match saved {
            Some(saved) => {
                self.buf = saved.bytes;
                // A whole journal can be large; the appends after it are small. Kept for
                // reuse, the buffer would hold the largest write ever made.
                if self.buf.capacity() > SAVE_BUF_KEEP {
                    self.buf = Vec::new();
                }
                saved.result
            }
            None => Err(std::io::Error::other("the store panicked")),
        };
        match result {
            Ok(()) => {
                self.journal.written();
                Ok(self.saving.drain(..))
            }
            Err(error) => {
                self.journal.failed();
                self.failed = true;
                // Not on disk: the whole journal, written next, takes them.
                self.saving.append(&mut self.unsaved);
                std::mem::swap(&mut self.saving, &mut self.unsaved);
                Err(error)
            }
        }
    }

    /// The capacity of the buffer kept for the next write.
    #[cfg(test)]
    pub(crate) fn kept_buffer(&self) -> usize {
        self.buf.capacity()
    }
}

/// The session `store` holds, or a new one when there is no store or nothing in it. The
/// first save after it writes the whole journal again (so a store of an older format is
/// rewritten in this one).
pub(crate) fn load(
    store: Option<&dyn Store>,
    mut config: Config,
    now: Instant,
) -> Result<Session<Instant>, StartError> {
    let Some(bytes) = store
        .map(|s| s.load())
        .transpose()
        .map_err(StartError::StoreRead)?
        .flatten()
    else {
        return Ok(Session::new(config)?);
    };
    let snapshot = Journal::read(Bytes::from(bytes))?;
    // A v5 session that fell back to 3.1.1 was saved as 3.1.1.
    let fell_back = config.v311_fallback && snapshot.protocol_version == ProtocolVersion::V311;
    if fell_back {
        config.protocol_version = ProtocolVersion::V311;
    }
    if snapshot.protocol_version != config.protocol_version {
        return Err(StartError::StoreVersion {
            stored: snapshot.protocol_version,
            configured: config.protocol_version,
        });
    }
    tracing::debug!(
        publishes = snapshot.outgoing.len(),
        subscriptions = snapshot.subscriptions.len(),
        "session loaded from the store"
    );
    Ok(Session::restore(config, snapshot, now)?)
}
