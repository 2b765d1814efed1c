//! Keeping the session where a process restart, or a crash, does not lose it.
//!
//! With a [`Store`] in [`Options::store`](crate::Options::store), the connection task loads
//! the session from it when it starts and saves the session's persistent part (a
//! [`Snapshot`]: publishes not yet completed, the QoS 2 identifiers whose PUBREC went out,
//! subscriptions, the identifier counters) whenever it changed. What is on disk when:
//!
//! * **a publish is accepted once it is stored**: its
//!   [`PublishHandle::accepted`](crate::PublishHandle::accepted) resolves only once the write
//!   that holds the message is done (QoS 1 and 2; QoS 0 is never stored). After a crash the next process sends every
//!   accepted message again (with DUP, in order) or, if the server lost the session, starts
//!   it over. What was not accepted yet may be lost: publish it again;
//! * **what the QoS 2 flows depend on is stored before the packet that follows from it**: a
//!   QoS 2 PUBLISH leaves only once its packet identifier is stored, its PUBREL once its
//!   release is, and a received QoS 2 message's PUBREC and PUBCOMP once the identifiers
//!   received are. So no crash makes a QoS 2 message arrive twice at the server, nor a
//!   message from the server be taken for one it already sent [MQTT-4.3.3];
//! * **the rest may follow the packets**: a QoS 1 PUBLISH may leave while the write that
//!   holds it runs, and a completed publish is removed from the store by a later write. A
//!   crash in between sends a QoS 1 message again (QoS 1 allows duplicates) or a PUBREL
//!   again (which the server answers whatever it holds);
//! * writes are shared: one write, and with [`FileStore`] one `fsync`, holds everything that
//!   changed since the last one began (group commit), one write at a time; a write that only
//!   new publishes wait for waits up to a millisecond for more of them;
//! * what is saved is a [`Journal`]: the first save after the start writes the state whole,
//!   the next ones append only what changed (a publish taken or moved on, the id of one
//!   completed), until the changes add up to the state's size and it is written whole
//!   again. So a client draining a backlog of messages writes each about twice, not the
//!   whole backlog on every turn; and finding what a turn changed looks only at the publishes
//!   the session noted as changed ([`Journal::write_session`], [`Journal::urgent`]), not at
//!   the whole backlog.
//!
//! The store is written on a thread of a blocking pool (tokio's `spawn_blocking`, the
//! `blocking` crate's on smol and async-std; see [`Step::Save`](crate::Step)): the connection
//! waits for a write only when what it is about to send depends on it, the program's other
//! tasks never. Loading, once when the client starts, happens where the client is created. A
//! store that panics is taken as one that failed.
//!
//! If a save fails, nothing that depends on it is sent: the connection that brought the input
//! is closed [MQTT-4.8.0-2], and the next connection (after the usual backoff) tries the store
//! again. The session in memory is unharmed, so no message is lost or doubled by a failing
//! store; only a crash while it fails loses what it could not save.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(doc)]
use mqtt_session::{Journal, Snapshot};

/// Where a client keeps its session between runs of the program.
///
/// What a client stores is a journal ([`Journal`]): the session whole, then the changes of
/// each turn appended. [`FileStore`] keeps it in a file; implement this for a database, flash
/// memory, or a test that needs a store to fail.
pub trait Store: Send + Sync + fmt::Debug {
    /// What the store holds (what [`Store::save`] was last given, with what [`Store::append`]
    /// added since), or `None` when nothing was saved yet.
    fn load(&self) -> io::Result<Option<Vec<u8>>>;

    /// Replaces what is stored with `bytes`. When it returns `Ok` the bytes must survive a
    /// crash; when it fails, or the process dies inside it, the store must hold either the
    /// old bytes or the new ones, whole.
    fn save(&self, bytes: &[u8]) -> io::Result<()>;

    /// Adds `bytes` at the end of what is stored. When it returns `Ok` they must survive a
    /// crash; when it fails, or the process dies inside it, the store may hold any beginning
    /// of them (the client's next write after a failure is a [`Store::save`]).
    ///
    /// The provided method loads, appends and saves everything, which is correct and as slow
    /// as writing the whole session every time; a store that can append should.
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut all = self.load()?.unwrap_or_default();
        all.extend_from_slice(bytes);
        self.save(&all)
    }
}

/// A [`Store`] in one file: each save writes a temporary file beside it, syncs it to disk,
/// renames it over the file and syncs the directory, so the file always holds one whole
/// journal; each append writes at the end of the file and syncs its data.
///
/// ```
/// use mqtt_client::{FileStore, Options, Store};
///
/// let dir = std::env::temp_dir().join(format!("mqtt-store-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = FileStore::new(dir.join("sensor-7.session"));
/// assert_eq!(store.load()?, None);
/// store.save(b"state")?;
/// assert_eq!(store.load()?, Some(b"state".to_vec()));
///
/// let options = Options::new("mqtt://127.0.0.1:1883", "sensor-7")?
///     .clean_start(false)
///     .session_expiry(3600)
///     .store(store);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    temporary: PathBuf,
    /// The file, open for appending since the last save (which replaced it).
    appending: std::sync::Mutex<Option<std::fs::File>>,
}

impl FileStore {
    /// A store in the file at `path` (its directory must exist); the temporary file is `path`
    /// with `.tmp` added.
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        let path = path.into();
        let mut temporary = path.clone().into_os_string();
        temporary.push(".tmp");
        FileStore {
            path,
            temporary: temporary.into(),
            appending: std::sync::Mutex::new(None),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn appending(&self) -> std::sync::MutexGuard<'_, Option<std::fs::File>> {
        self.appending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clone for FileStore {
    /// The same file, opened anew for its appends.
    fn clone(&self) -> Self {
        FileStore::new(self.path.clone())
    }
}

impl Store for FileStore {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn save(&self, bytes: &[u8]) -> io::Result<()> {
        // The file open for appending is the one this replaces.
        *self.appending() = None;
        let mut file = std::fs::File::create(&self.temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temporary, &self.path)?;
        sync_directory(&self.path)
    }

    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut appending = self.appending();
        let file = match &mut *appending {
            Some(file) => file,
            None => appending.insert(std::fs::OpenOptions::new().append(true).open(&self.path)?),
        };
        let result = file.write_all(bytes).and_then(|()| file.sync_data());
        if result.is_err() {
            // Opened again next time (the client's next write after a failure is a save).
            *appending = None;
        }
        result
    }
}

/// Makes the rename that put `path` in place durable (on Unix, a rename is durable only once
/// its directory is synced).
#[cfg(unix)]
fn sync_directory(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Why a client could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The session configuration is invalid.
    #[error(transparent)]
    Config(#[from] mqtt_session::ConfigError),
    /// The store could not be read.
    #[error("reading the session store: {0}")]
    StoreRead(#[source] io::Error),
    /// The store holds bytes that are not a session journal. The client does not start
    /// rather than drop the state they may hold.
    #[error("the session store is corrupt: {0}")]
    StoreCorrupt(#[from] mqtt_session::SnapshotError),
    /// The stored session speaks another protocol version than the options ask for.
    #[error("the stored session is MQTT {stored}, the options ask for MQTT {configured}")]
    StoreVersion {
        /// The stored session's version.
        stored: mqtt_proto::ProtocolVersion,
        /// The version in the options.
        configured: mqtt_proto::ProtocolVersion,
    },
    /// An authenticator is set, and enhanced authentication needs MQTT v5.
    #[error("an authenticator needs MQTT v5")]
    AuthenticatorNeedsV5,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saves replace the file whole, leave no temporary file behind, and a missing file loads
    /// as nothing.
    #[test]
    fn a_file_store_replaces_its_file_whole() {
        let dir = mqtt_test_support::TempDir::new("file-store").expect("temp dir");
        let store = FileStore::new(dir.path().join("session"));
        assert_eq!(store.load().expect("load"), None);
        store.save(b"a longer first snapshot").expect("save");
        store.save(b"second").expect("save");
        assert_eq!(store.load().expect("load"), Some(b"second".to_vec()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("session")]);
    }

    /// A store that cannot be read, holds something else than a snapshot, or holds a session
    /// of the other protocol version stops the client from starting, with the reason; a
    /// snapshot of the right version starts it with the stored client id.
    #[test]
    fn a_client_starts_only_from_a_store_it_can_read() {
        use crate::{Driver, Options};
        use mqtt_proto::{MqttString, ProtocolVersion};
        use mqtt_session::{Config, Session};

        #[derive(Debug)]
        struct Broken;
        impl Store for Broken {
            fn load(&self) -> io::Result<Option<Vec<u8>>> {
                Err(io::Error::other("unreadable"))
            }
            fn save(&self, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
        }
        let dir = mqtt_test_support::TempDir::new("file-store-start").expect("temp dir");
        let store = FileStore::new(dir.path().join("session"));
        let options = |version| {
            Options::new("mqtt://127.0.0.1:1883", "configured")
                .expect("options")
                .protocol_version(version)
                .store(store.clone())
        };
        let start = |options| {
            Driver::client_pair(options, 4, std::time::Instant::now()).map(|pair| pair.driver)
        };

        let broken = Options::new("mqtt://127.0.0.1:1883", "c")
            .expect("options")
            .store(Broken);
        assert!(matches!(start(broken), Err(StartError::StoreRead(_))));

        store.save(b"not a snapshot").expect("save");
        assert!(matches!(
            start(options(ProtocolVersion::V5)),
            Err(StartError::StoreCorrupt(_))
        ));

        let config = Config::new(
            ProtocolVersion::V311,
            MqttString::new("stored").expect("id"),
        );
        let mut bytes = bytes::BytesMut::new();
        Session::<std::time::Instant>::new(config)
            .expect("session")
            .snapshot()
            .encode(&mut bytes);
        store.save(&bytes).expect("save");
        assert!(matches!(
            start(options(ProtocolVersion::V5)),
            Err(StartError::StoreVersion {
                stored: ProtocolVersion::V311,
                configured: ProtocolVersion::V5
            })
        ));
        let driver = start(options(ProtocolVersion::V311)).expect("a readable store");
        assert_eq!(driver.session().client_id().as_str(), "stored");
    }

    /// Appends go at the end of what the last save wrote; an append to a file that is gone
    /// fails (the client's next write is then a save).
    #[test]
    fn a_file_store_appends_to_its_file() {
        let dir = mqtt_test_support::TempDir::new("file-store-append").expect("temp dir");
        let store = FileStore::new(dir.path().join("session"));
        assert_eq!(
            store.append(b"x").map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound)
        );
        store.save(b"whole").expect("save");
        store.append(b", then").expect("append");
        store.append(b" more").expect("append");
        assert_eq!(
            store.load().expect("load"),
            Some(b"whole, then more".to_vec())
        );
        store.save(b"again").expect("save");
        assert_eq!(store.load().expect("load"), Some(b"again".to_vec()));
    }

    /// A store that only loads and saves appends through them.
    #[test]
    fn the_provided_append_loads_and_saves() {
        #[derive(Debug, Default)]
        struct Memory(std::sync::Mutex<Option<Vec<u8>>>);
        impl Store for Memory {
            fn load(&self) -> io::Result<Option<Vec<u8>>> {
                Ok(self.0.lock().expect("lock").clone())
            }
            fn save(&self, bytes: &[u8]) -> io::Result<()> {
                *self.0.lock().expect("lock") = Some(bytes.to_vec());
                Ok(())
            }
        }
        let store = Memory::default();
        store.append(b"a").expect("append");
        store.append(b"b").expect("append");
        assert_eq!(store.load().expect("load"), Some(b"ab".to_vec()));
    }

    /// A store in a directory that does not exist fails to save with the error, not a panic.
    #[test]
    fn a_file_store_reports_a_failed_save() {
        let dir = mqtt_test_support::TempDir::new("file-store-missing").expect("temp dir");
        let store = FileStore::new(dir.path().join("missing").join("session"));
        assert_eq!(
            store.save(b"x").map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound)
        );
        assert_eq!(store.load().expect("load"), None);
    }
}
