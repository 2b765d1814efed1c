//! Topic Names and Topic Filters (section 4.7) as validated types, shared subscriptions
//! (section 4.8.2) and the matching of names against filters.

use bytes::Bytes;
use bytestring::ByteString;
use core::{fmt, ops::Deref};

use crate::error::Error;
use crate::string::MqttString;

const SHARE_PREFIX: &str = "$share/";

/// A Topic Name: the topic a PUBLISH is sent to. Never holds a wildcard [MQTT-3.3.2-2]
/// (v5 [MQTT-4.7.0-1]; v3.1.1 [MQTT-4.7.1-1]); at least
/// one character long [MQTT-4.7.3-1], except the empty name of a v5 PUBLISH that a Topic Alias
/// stands in for ([`TopicName::empty`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

impl TopicName {
    /// Validates a topic name.
    ///
    /// ```
    /// use mqtt_proto::{Error, TopicName};
    /// assert!(TopicName::new("sensors/1/temp").is_ok());
    /// assert_eq!(TopicName::new("sensors/+/temp"), Err(Error::WildcardInTopicName));
    /// assert_eq!(TopicName::new(""), Err(Error::EmptyTopicName));
    /// ```
    pub fn new(name: impl Into<ByteString>) -> Result<Self, Error> {
        let name = MqttString::new(name)?;
        if name.is_empty() {
            return Err(Error::EmptyTopicName);
        }
        Self::from_string(name)
    }

    /// The empty topic name of a v5 PUBLISH whose Topic Alias names the topic (section
    /// 3.3.2.3.4).
    pub const fn empty() -> Self {
        TopicName(MqttString::empty())
    }

    /// Checks the wildcard rule on a validated string; the empty string is allowed here, the
    /// caller decides whether it may be empty.
    pub(crate) fn from_string(name: MqttString) -> Result<Self, Error> {
        if crate::string::nul_and_wildcard(name.as_bytes()).1 {
            return Err(Error::WildcardInTopicName);
        }
        Ok(TopicName(name))
    }

    /// Validates a Topic Name received from the network ([MQTT-1.5.4-1], [MQTT-1.5.4-2],
    /// [MQTT-3.3.2-2]), checking for NUL and wildcards in one pass; the empty string is allowed
    /// here, the caller decides whether it may be empty.
    pub(crate) fn from_bytes(bytes: Bytes) -> Result<Self, Error> {
        MqttString::from_topic_bytes(bytes).map(TopicName)
    }

    /// [`TopicName::from_bytes`] for bytes already scanned for NUL and wildcards.
    #[inline(always)]
    pub(crate) fn from_scanned(bytes: Bytes, found: (bool, bool)) -> Result<Self, Error> {
        MqttString::from_scanned_topic(bytes, found).map(TopicName)
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a validated MQTT string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// The underlying bytes, shared with the buffer the name was decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }
}

impl Deref for TopicName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl TryFrom<&'static str> for TopicName {
    type Error = Error;
    fn try_from(s: &'static str) -> Result<Self, Error> {
        TopicName::new(ByteString::from_static(s))
    }
}

impl TryFrom<alloc::string::String> for TopicName {
    type Error = Error;
    fn try_from(s: alloc::string::String) -> Result<Self, Error> {
        TopicName::new(s)
    }
}

/// A Topic Filter: what SUBSCRIBE and UNSUBSCRIBE name. `#` stands last and alone in its level
/// and `+` alone in its level [MQTT-4.7.1-1], [MQTT-4.7.1-2]; empty levels are allowed; at least
/// one character [MQTT-4.7.3-1]. A filter of the form `$share/{ShareName}/{filter}` is a shared
/// subscription [MQTT-4.8.2-1], [MQTT-4.8.2-2]: [`TopicFilter::share_name`] and
/// [`TopicFilter::filter`] take it apart.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(MqttString);

impl TopicFilter {
    /// Validates a topic filter.
    ///
    /// ```
    /// use mqtt_proto::{Error, TopicFilter};
    /// let shared = TopicFilter::new("$share/workers/jobs/+")?;
    /// assert_eq!(shared.share_name(), Some("workers"));
    /// assert_eq!(shared.filter(), "jobs/+");
    /// assert!(shared.matches("jobs/42"));
    /// assert_eq!(TopicFilter::new("a/#/b"), Err(Error::InvalidWildcard));
    /// assert_eq!(TopicFilter::new("a/b+"), Err(Error::InvalidWildcard));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(filter: impl Into<ByteString>) -> Result<Self, Error> {
        Self::from_string(MqttString::new(filter)?)
    }

    pub(crate) fn from_string(s: MqttString) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(Error::EmptyTopicFilter);
        }
        let filter = match s.strip_prefix(SHARE_PREFIX) {
            Some(rest) => {
                let (share_name, filter) = rest
                    .split_once('/')
                    .ok_or(Error::InvalidSharedSubscription)?;
                if share_name.is_empty() || share_name.contains(['+', '#']) || filter.is_empty() {
                    return Err(Error::InvalidSharedSubscription);
                }
                filter
            }
            None => &s,
        };
        check_wildcards(filter)?;
        Ok(TopicFilter(s))
    }

    /// [`TopicFilter::from_string`] for a string in which [`nul_and_wildcard`] found no
    /// wildcard (`wildcard` false): then a filter that is not empty and not shared holds
    /// nothing more to check.
    ///
    /// [`nul_and_wildcard`]: crate::string::nul_and_wildcard
    #[inline(always)]
    pub(crate) fn from_scanned(s: MqttString, wildcard: bool) -> Result<Self, Error> {
        if !wildcard && !s.is_empty() && !s.starts_with(SHARE_PREFIX) {
            return Ok(TopicFilter(s));
        }
        Self::from_string(s)
    }

    /// The whole filter as sent, `$share/` prefix included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The whole filter as a validated MQTT string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// The ShareName of a shared subscription, `None` for an ordinary filter.
    pub fn share_name(&self) -> Option<&str> {
        let rest = self.0.strip_prefix(SHARE_PREFIX)?;
        rest.split_once('/').map(|(name, _)| name)
    }

    /// Whether this is a shared subscription (`$share/...`).
    pub fn is_shared(&self) -> bool {
        self.share_name().is_some()
    }

    /// The filter that topic names are matched against: for a shared subscription the part
    /// after `$share/{ShareName}/`, otherwise the whole filter.
    pub fn filter(&self) -> &str {
        match self
            .0
            .strip_prefix(SHARE_PREFIX)
            .and_then(|r| r.split_once('/'))
        {
            Some((_, filter)) => filter,
            None => &self.0,
        }
    }

    /// Whether the filter holds a `+` or `#` wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.filter().contains(['+', '#'])
    }

    /// Whether `name` matches this filter (section 4.7). `#` matches its parent level and every
    /// level below; `+` matches one whole level; a filter starting with a wildcard never matches
    /// a name starting with `$` [MQTT-4.7.2-1]. Shared subscriptions match by their inner
    /// filter.
    pub fn matches(&self, name: &str) -> bool {
        filter_matches(self.filter(), name)
    }
}

/// `#` alone and last, `+` alone in its level: v5 [MQTT-4.7.1-1], [MQTT-4.7.1-2]; v3.1.1
/// [MQTT-4.7.1-2], [MQTT-4.7.1-3].
///
/// A wildcard must start and end its level, and `#` must end the filter. Filters of eight bytes
/// or more are read eight bytes at a time and only the wildcards found are looked at; shorter
/// ones byte by byte.
fn check_wildcards(filter: &str) -> Result<(), Error> {
    const LOW7: u64 = u64::MAX / 0xFF * 0x7F;
    const BIT3: u64 = u64::MAX / 0xFF * 0x08;
    const PLUS: u64 = u64::MAX / 0xFF * b'+' as u64;
    let bytes = filter.as_bytes();
    let len = bytes.len();
    if len < 8 {
        for (i, &b) in bytes.iter().enumerate() {
            if b | 0x08 == b'+' {
                check_wildcard_at(bytes, i)?;
            }
        }
        return Ok(());
    }
    let mut at = 0;
    while at < len {
        // The last word may overlap the one before it: a wildcard checked twice is checked.
        let start = at.min(len - 8);
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[start..start + 8]);
        let x = u64::from_le_bytes(word);
        // `+` and `#` differ only in bit 3 (see `nul_and_wildcard`): zero bytes of `y` are
        // wildcards of `x`, found exactly (no carry between bytes) by the high bit of each.
        let y = (x | BIT3) ^ PLUS;
        let mut found = !(((y & LOW7) + LOW7) | y) & !LOW7;
        while found != 0 {
            check_wildcard_at(bytes, start + (found.trailing_zeros() / 8) as usize)?;
            found &= found - 1;
        }
        at = start + 8;
    }
    Ok(())
}

/// The wildcard at `i` starts and ends its level; `#` is the last character.
fn check_wildcard_at(bytes: &[u8], i: usize) -> Result<(), Error> {
    let starts_level = i == 0 || bytes[i - 1] == b'/';
    let is_last = i + 1 == bytes.len();
    let ends_level = is_last || bytes[i + 1] == b'/';
    if !starts_level || !ends_level || (bytes[i] == b'#' && !is_last) {
        return Err(Error::InvalidWildcard);
    }
    Ok(())
}

/// Matches a (non-shared) filter string against a topic name string. Both are assumed valid.
pub(crate) fn filter_matches(filter: &str, name: &str) -> bool {
    // [MQTT-4.7.2-1]
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    // A filter without wildcards matches the identical name only; most do not have any.
    if filter == name {
        return true;
    }
    if !filter.bytes().any(|b| b == b'+' || b == b'#') {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl Deref for TopicFilter {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl TryFrom<&'static str> for TopicFilter {
    type Error = Error;
    fn try_from(s: &'static str) -> Result<Self, Error> {
        TopicFilter::new(ByteString::from_static(s))
    }
}

impl TryFrom<alloc::string::String> for TopicFilter {
    type Error = Error;
    fn try_from(s: alloc::string::String) -> Result<Self, Error> {
        TopicFilter::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to nine bytes over `a / + #` (the short ones read byte by byte, the
    /// longer ones word by word) is judged as the level-by-level reading
    /// of the rules judges it: a level holding a wildcard is that wildcard alone, and `#` is the
    /// last level.
    #[test]
    fn wildcard_check_agrees_with_the_rules_level_by_level() {
        fn by_levels(filter: &str) -> bool {
            let levels: alloc::vec::Vec<&str> = filter.split('/').collect();
            levels.iter().enumerate().all(|(i, level)| {
                !level.contains(['+', '#'])
                    || *level == "+"
                    || (*level == "#" && i + 1 == levels.len())
            })
        }
        let alphabet = [b'a', b'/', b'+', b'#'];
        let mut checked = 0;
        for len in 1..=9u32 {
            for mut code in 0..4usize.pow(len) {
                let mut bytes = alloc::vec::Vec::new();
                for _ in 0..len {
                    bytes.push(alphabet[code % 4]);
                    code /= 4;
                }
                let filter = core::str::from_utf8(&bytes).unwrap();
                assert_eq!(
                    check_wildcards(filter).is_ok(),
                    by_levels(filter),
                    "{filter:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, (1..=9).map(|n| 4usize.pow(n)).sum::<usize>());
    }

    /// Every valid filter of up to five bytes over `a / + #` against every name of up to five
    /// bytes over `a / $`: the matcher agrees with a level-by-level reading of section 4.7.
    #[test]
    fn matching_agrees_with_the_rules_level_by_level() {
        fn by_levels(filter: &str, name: &str) -> bool {
            if name.starts_with('$') && filter.starts_with(['+', '#']) {
                return false;
            }
            let f: alloc::vec::Vec<&str> = filter.split('/').collect();
            let n: alloc::vec::Vec<&str> = name.split('/').collect();
            for (i, level) in f.iter().enumerate() {
                match *level {
                    "#" => return true,
                    "+" if i < n.len() => {}
                    _ if i < n.len() && *level == n[i] => {}
                    _ => return false,
                }
            }
            f.len() == n.len()
        }
        fn strings(alphabet: &[u8], max: u32) -> alloc::vec::Vec<alloc::string::String> {
            let mut all = alloc::vec::Vec::new();
            for len in 1..=max {
                for mut code in 0..alphabet.len().pow(len) {
                    let mut s = alloc::string::String::new();
                    for _ in 0..len {
                        s.push(char::from(alphabet[code % alphabet.len()]));
                        code /= alphabet.len();
                    }
                    all.push(s);
                }
            }
            all
        }
        let names = strings(b"a/$", 5);
        let mut pairs = 0;
        for filter in strings(b"a/+#", 5) {
            if check_wildcards(&filter).is_err() {
                continue;
            }
            for name in &names {
                assert_eq!(
                    filter_matches(&filter, name),
                    by_levels(&filter, name),
                    "{filter:?} {name:?}"
                );
                pairs += 1;
            }
        }
        assert_eq!(pairs, 149 * 363, "valid filters times names");
    }

    fn m(filter: &'static str, name: &str) -> bool {
        TopicFilter::try_from(filter).unwrap().matches(name)
    }

    // The examples of section 4.7.1.2 and 4.7.1.3.
    #[test]
    fn spec_examples_multi_level() {
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(m(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(m("sport/#", "sport"));
        assert!(m("#", "a/b/c"));
        assert_eq!(
            TopicFilter::new("sport/tennis#"),
            Err(Error::InvalidWildcard)
        );
        assert_eq!(
            TopicFilter::new("sport/tennis/#/ranking"),
            Err(Error::InvalidWildcard)
        );
    }

    #[test]
    fn spec_examples_single_level() {
        assert!(m("sport/tennis/+", "sport/tennis/player1"));
        assert!(m("sport/tennis/+", "sport/tennis/player2"));
        assert!(!m("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!m("sport/+", "sport"));
        assert!(m("sport/+", "sport/"));
        assert!(m("+/+", "/finance"));
        assert!(m("/+", "/finance"));
        assert!(!m("+", "/finance"));
        assert!(TopicFilter::new("+").is_ok());
        assert!(TopicFilter::new("+/tennis/#").is_ok());
        assert_eq!(TopicFilter::new("sport+"), Err(Error::InvalidWildcard));
    }

    // [MQTT-4.7.2-1] and the examples of section 4.7.2.
    #[test]
    fn dollar_topics_not_matched_by_leading_wildcards() {
        assert!(!m("#", "$SYS/broker/version"));
        assert!(!m("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(m("$SYS/#", "$SYS/monitor/Clients"));
        assert!(m("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn empty_levels_and_names() {
        assert!(TopicName::new("/").is_ok());
        assert!(TopicName::new("a//b").is_ok());
        assert!(m("a//b", "a//b"));
        assert!(m("a/+/b", "a//b"));
        assert_eq!(TopicName::new("a/#"), Err(Error::WildcardInTopicName));
        assert_eq!(TopicFilter::new(""), Err(Error::EmptyTopicFilter));
        assert!(TopicName::empty().is_empty());
    }

    // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
    #[test]
    fn shared_subscriptions() {
        let f = TopicFilter::new("$share/g1/a/#").unwrap();
        assert_eq!((f.share_name(), f.filter()), (Some("g1"), "a/#"));
        assert!(f.matches("a/b"));
        assert!(f.is_shared() && f.has_wildcards());
        for bad in [
            "$share/",
            "$share//a",
            "$share/g+/a",
            "$share/g#/a",
            "$share/g",
            "$share/g/",
        ] {
            assert_eq!(
                TopicFilter::new(bad),
                Err(Error::InvalidSharedSubscription),
                "{bad}"
            );
        }
        assert_eq!(TopicFilter::new("$share/g/a#"), Err(Error::InvalidWildcard));
        // Not a shared subscription: the prefix must be exactly "$share/".
        assert!(!TopicFilter::new("$shared/g/a").unwrap().is_shared());
    }
}
