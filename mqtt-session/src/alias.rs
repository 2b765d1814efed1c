//! Topic aliases (v5 section 3.3.2.3.4): the server's to us, resolved; ours to the server,
//! assigned automatically to the most recently used topics. Both live only as long as one
//! connection [MQTT-3.3.2-7].

use alloc::string::String;
use core::num::NonZeroU16;
use mqtt_proto::TopicName;

use crate::tables::{cap_u16, Table, Tables};

/// The aliases the server has set up towards us, indexed by alias - 1.
#[derive(Debug)]
pub(crate) struct InboundAliases<T: Tables> {
    map: T::Aliases<Option<TopicName>>,
    max: u16,
}

/// Why an inbound alias could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasError {
    /// Above our Topic Alias Maximum [MQTT-3.3.2-9]: DISCONNECT 0x94.
    OutOfRange,
    /// An empty topic with an alias never set up: a Protocol Error (3.3.2.3.4).
    Unknown,
}

impl<T: Tables> InboundAliases<T> {
    pub(crate) fn new() -> Self {
        InboundAliases {
            map: Table::new(),
            max: 0,
        }
    }

    /// Starts a connection with `max` aliases allowed (at most the table's capacity).
    pub(crate) fn reset(&mut self, max: u16) {
        self.max = cap_u16(max, T::ALIASES);
        self.map.clear();
    }

    /// Resolves (and for a non-empty topic, records) the alias of an inbound PUBLISH; returns
    /// the topic to use.
    pub(crate) fn resolve(
        &mut self,
        alias: NonZeroU16,
        topic: &TopicName,
    ) -> Result<TopicName, AliasError> {
        if alias.get() > self.max {
            return Err(AliasError::OutOfRange);
        }
        let index = usize::from(alias.get() - 1);
        if topic.is_empty() {
            return self
                .map
                .get(index)
                .and_then(|t| t.clone())
                .ok_or(AliasError::Unknown);
        }
        while self.map.len() <= index {
            // `max` is within the table's capacity, so there is room up to it.
            if self.map.push(None).is_err() {
                return Err(AliasError::OutOfRange);
            }
        }
        if let Some(slot) = self.map.get_mut(index) {
            // A server that repeats the topic with its alias costs no new copy.
            if slot.as_ref() != Some(topic) {
                *slot = Some(own_copy(topic));
            }
        }
        Ok(topic.clone())
    }
}

/// A copy of `topic` in an allocation of its own. A decoded topic is a slice of the read
/// buffer; kept in the table it would hold that whole buffer (as large as the message that
/// set the alias) alive for as long as the alias lives.
fn own_copy(topic: &TopicName) -> TopicName {
    // The topic was validated when decoded; validating the copy again cannot fail, and if it
    // did, keeping the shared slice is still correct, only larger.
    TopicName::try_from(String::from(topic.as_str())).unwrap_or_else(|_| topic.clone())
}

/// How an outbound PUBLISH uses an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasUse {
    /// No alias: send the topic.
    None,
    /// A new mapping: send the topic and the alias.
    Assign(NonZeroU16),
    /// An established mapping: send an empty topic and the alias.
    Reuse(NonZeroU16),
}

/// Our aliases to the server: at most `max`, the least recently used one replaced.
#[derive(Debug)]
pub(crate) struct OutboundAliases<T: Tables> {
    entries: T::Aliases<(TopicName, NonZeroU16, u64)>,
    max: u16,
    clock: u64,
}

impl<T: Tables> OutboundAliases<T> {
    pub(crate) fn new() -> Self {
        OutboundAliases {
            entries: Table::new(),
            max: 0,
            clock: 0,
        }
    }

    /// Starts a connection with `max` aliases to assign (at most the table's capacity).
    pub(crate) fn reset(&mut self, max: u16) {
        self.max = cap_u16(max, T::ALIASES);
        self.entries.clear();
        self.clock = 0;
    }

    /// The alias to send `topic` with: an established one, or (when `may_assign`) a new one.
    pub(crate) fn use_for(&mut self, topic: &TopicName, may_assign: bool) -> AliasUse {
        if self.max == 0 || topic.is_empty() {
            return AliasUse::None;
        }
        self.clock += 1;
        if let Some(entry) = self.entries.iter_mut().find(|(t, _, _)| t == topic) {
            entry.2 = self.clock;
            return AliasUse::Reuse(entry.1);
        }
        if !may_assign {
            return AliasUse::None;
        }
        if self.entries.len() < usize::from(self.max) {
            let alias = NonZeroU16::new(self.entries.len() as u16 + 1).unwrap_or(NonZeroU16::MIN);
            if self
                .entries
                .push((topic.clone(), alias, self.clock))
                .is_ok()
            {
                return AliasUse::Assign(alias);
            }
        }
        // Replace the least recently used mapping.
        let Some(lru) = self.entries.iter_mut().min_by_key(|(_, _, used)| *used) else {
            return AliasUse::None;
        };
        lru.0 = topic.clone();
        lru.2 = self.clock;
        AliasUse::Assign(lru.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl OutboundAliases<crate::Growable> {
        fn use_for_test(&mut self, topic: &TopicName) -> AliasUse {
            self.use_for(topic, true)
        }
    }

    fn t(s: &'static str) -> TopicName {
        TopicName::try_from(s).unwrap()
    }

    #[test]
    fn outbound_aliases_assign_reuse_and_replace_the_least_recently_used() {
        let mut a = OutboundAliases::<crate::Growable>::new();
        a.reset(2);
        let one = NonZeroU16::new(1).unwrap();
        let two = NonZeroU16::new(2).unwrap();
        assert_eq!(a.use_for_test(&t("a")), AliasUse::Assign(one));
        assert_eq!(a.use_for_test(&t("b")), AliasUse::Assign(two));
        assert_eq!(a.use_for_test(&t("a")), AliasUse::Reuse(one));
        // "b" is least recently used: "c" takes alias 2.
        assert_eq!(a.use_for_test(&t("c")), AliasUse::Assign(two));
        assert_eq!(a.use_for_test(&t("a")), AliasUse::Reuse(one));
        a.reset(0);
        assert_eq!(a.use_for_test(&t("a")), AliasUse::None);
    }

    #[test]
    fn inbound_aliases() {
        let mut a = InboundAliases::<crate::Growable>::new();
        a.reset(2);
        let one = NonZeroU16::new(1).unwrap();
        assert_eq!(
            a.resolve(one, &TopicName::empty()),
            Err(AliasError::Unknown)
        );
        assert_eq!(a.resolve(one, &t("x")), Ok(t("x")));
        assert_eq!(a.resolve(one, &TopicName::empty()), Ok(t("x")));
        assert_eq!(
            a.resolve(NonZeroU16::new(3).unwrap(), &t("y")),
            Err(AliasError::OutOfRange)
        );
    }
}
