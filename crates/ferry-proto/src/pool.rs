//! Idle-connection bookkeeping, generic over the connection type: no sockets, no clock.
//!
//! The driver owns the connections' I/O; the pool only remembers which idle connection belongs
//! to which [`RouteKey`], since when, and which to close. It follows the core's timer contract:
//! [`Pool::poll_timeout`] is the earliest idle deadline, [`Pool::handle_timeout`] may be called
//! early or twice, and `now` only moves forward.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::route::RouteKey;
use crate::time::Timestamp;

/// The pool's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Idle connections kept per [`RouteKey`]; past it the oldest of that key is evicted.
    /// Default 10 (Requests' `pool_maxsize`). Zero disables pooling.
    pub max_idle_per_key: usize,
    /// Idle connections kept in all; past it the oldest anywhere is evicted. Default 100 (Go's
    /// `MaxIdleConns`). Zero disables pooling.
    pub max_idle: usize,
    /// How long a connection may sit idle; `None` for no limit. Default 90 s (Go's
    /// `IdleConnTimeout`, hyper-util's default).
    pub idle_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_idle_per_key: 10,
            max_idle: 100,
            idle_timeout: Some(Duration::from_secs(90)),
        }
    }
}

/// What [`Pool::put`] did with a connection. Every variant but `Pooled` hands back a connection
/// the driver must close.
#[must_use = "a refused or evicted connection must be closed"]
#[derive(Debug, PartialEq, Eq)]
pub enum Put<C> {
    /// The connection is in the pool.
    Pooled,
    /// The connection was not taken: its exchange did not end reusable, or the limits are zero,
    /// or its idle timeout is zero.
    Refused(C),
    /// The connection is in the pool, and this older one was pushed out by a limit.
    Evicted(C),
}

impl<C> Put<C> {
    /// The connection to close, if any.
    #[must_use]
    pub fn into_closed(self) -> Option<C> {
        match self {
            Put::Pooled => None,
            Put::Refused(c) | Put::Evicted(c) => Some(c),
        }
    }
}

struct Idle<C, T> {
    conn: C,
    /// `None`: never expires.
    expires: Option<T>,
    /// Insertion order, for "oldest" across keys.
    seq: u64,
}

impl<C, T: Timestamp> Idle<C, T> {
    fn expired(&self, now: T) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// Idle connections by [`RouteKey`].
///
/// Only a connection whose exchange ended reusable (the state machine's
/// `End::Done { reusable: true }`) may enter: [`Pool::put`] takes that fact as its `reusable`
/// argument and refuses the connection otherwise. [`Pool::take`] gives the most recently used
/// connection of a key. Limits per key and in all evict the oldest; idle deadlines are driven by
/// [`Pool::poll_timeout`] and [`Pool::handle_timeout`], which hands the expired connections back
/// so the driver can close them.
///
/// ```
/// use core::time::Duration;
/// use ferry_proto::{Pool, PoolConfig, Put, Route, Url};
/// let key = Route::direct(&Url::parse("http://example.com/").unwrap()).key(0);
/// let mut pool: Pool<&str, Duration> = Pool::new(PoolConfig::default());
/// let t0 = Duration::ZERO;
/// assert_eq!(pool.put(key.clone(), "conn 1", true, t0), Put::Pooled);
/// assert_eq!(pool.put(key.clone(), "conn 2", false, t0), Put::Refused("conn 2"));
/// assert_eq!(pool.poll_timeout(), Some(Duration::from_secs(90)));
/// assert_eq!(pool.take(&key, Duration::from_secs(1)), Some("conn 1"));
/// assert_eq!(pool.take(&key, Duration::from_secs(1)), None);
/// ```
pub struct Pool<C, T: Timestamp> {
    config: PoolConfig,
    /// Per key, oldest at the front, most recently used at the back; never empty.
    idle: BTreeMap<RouteKey, VecDeque<Idle<C, T>>>,
    len: usize,
    next_seq: u64,
}

impl<C, T: Timestamp> Pool<C, T> {
    /// An empty pool with these limits.
    #[must_use]
    pub fn new(config: PoolConfig) -> Self {
        Pool { config, idle: BTreeMap::new(), len: 0, next_seq: 0 }
    }

    /// The limits.
    #[must_use]
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Files `conn` as idle under `key` at `now`.
    ///
    /// `reusable` must be whether the connection's exchange ended `Done { reusable: true }`;
    /// when it is `false` the connection is refused and handed back to be closed. An idle
    /// timeout that overflows `T` means the connection never expires. Cost: `O(log keys)`, plus
    /// `O(keys)` when the total limit evicts.
    pub fn put(&mut self, key: RouteKey, conn: C, reusable: bool, now: T) -> Put<C> {
        if !reusable || self.config.max_idle_per_key == 0 || self.config.max_idle == 0 {
            return Put::Refused(conn);
        }
        let expires = match self.config.idle_timeout {
            Some(d) => now.checked_add(d),
            None => None,
        };
        if expires.is_some_and(|at| at <= now) {
            return Put::Refused(conn);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let queue = self.idle.entry(key).or_default();
        queue.push_back(Idle { conn, expires, seq });
        self.len += 1;
        if queue.len() > self.config.max_idle_per_key {
            if let Some(old) = queue.pop_front() {
                self.len -= 1;
                return Put::Evicted(old.conn);
            }
        }
        if self.len > self.config.max_idle {
            if let Some(old) = self.pop_oldest() {
                return Put::Evicted(old);
            }
        }
        Put::Pooled
    }

    /// The most recently used idle connection of `key` that has not expired at `now`.
    ///
    /// Expired connections met on the way are dropped (their `Drop` runs); a driver that wants
    /// to close them in order calls [`Pool::handle_timeout`] at [`Pool::poll_timeout`], which
    /// hands them back first.
    pub fn take(&mut self, key: &RouteKey, now: T) -> Option<C> {
        let queue = self.idle.get_mut(key)?;
        let mut found = None;
        while let Some(idle) = queue.pop_back() {
            self.len -= 1;
            if !idle.expired(now) {
                found = Some(idle.conn);
                break;
            }
        }
        if queue.is_empty() {
            self.idle.remove(key);
        }
        found
    }

    /// The earliest idle deadline, if any connection can expire. Cost: linear in the number of
    /// idle connections.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.idle.values().flatten().filter_map(|i| i.expires).min()
    }

    /// Removes every connection whose deadline is not after `now` and hands them back to be
    /// closed. Safe to call early (returns nothing) or twice.
    #[must_use = "expired connections must be closed"]
    pub fn handle_timeout(&mut self, now: T) -> Vec<C> {
        let mut out = Vec::new();
        self.idle.retain(|_, queue| {
            if queue.iter().any(|i| i.expired(now)) {
                let kept: VecDeque<_> = queue
                    .drain(..)
                    .filter_map(|i| {
                        if i.expired(now) {
                            out.push(i.conn);
                            None
                        } else {
                            Some(i)
                        }
                    })
                    .collect();
                *queue = kept;
            }
            !queue.is_empty()
        });
        self.len -= out.len();
        out
    }

    /// Removes every idle connection (at shutdown) and hands them back to be closed.
    #[must_use = "drained connections must be closed"]
    pub fn drain(&mut self) -> Vec<C> {
        self.len = 0;
        core::mem::take(&mut self.idle).into_values().flatten().map(|i| i.conn).collect()
    }

    /// Idle connections in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no connection is idle.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Idle connections of `key`.
    #[must_use]
    pub fn len_for(&self, key: &RouteKey) -> usize {
        self.idle.get(key).map_or(0, VecDeque::len)
    }

    /// Removes the oldest connection across all keys.
    fn pop_oldest(&mut self) -> Option<C> {
        let key = self
            .idle
            .iter()
            .filter_map(|(k, q)| q.front().map(|i| (i.seq, k)))
            .min_by_key(|(seq, _)| *seq)
            .map(|(_, k)| k.clone())?;
        let queue = self.idle.get_mut(&key)?;
        let old = queue.pop_front()?;
        if queue.is_empty() {
            self.idle.remove(&key);
        }
        self.len -= 1;
        Some(old.conn)
    }
}

impl<C, T: Timestamp> fmt::Debug for Pool<C, T> {
    /// Counts per key; neither connections nor secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("len", &self.len)
            .field("keys", &self.idle.iter().map(|(k, q)| (k, q.len())).collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Proxy, Route};
    use crate::url::Url;
    use proptest::prelude::*;

    fn key(url: &str) -> RouteKey {
        Route::direct(&Url::parse(url).unwrap()).key(0)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn pool(per_key: usize, total: usize, idle: Option<u64>) -> Pool<u32, Duration> {
        Pool::new(PoolConfig {
            max_idle_per_key: per_key,
            max_idle: total,
            idle_timeout: idle.map(secs),
        })
    }

    #[test]
    fn only_reusable_connections_enter() {
        let mut p = pool(2, 2, Some(10));
        let a = key("http://a/");
        assert_eq!(p.put(a.clone(), 1, false, secs(0)), Put::Refused(1));
        assert!(p.is_empty());
        assert_eq!(p.put(a.clone(), 2, true, secs(0)), Put::Pooled);
        assert_eq!(p.len(), 1);
        // Zero limits or a zero idle timeout: nothing could ever be reused.
        assert_eq!(pool(0, 5, None).put(a.clone(), 3, true, secs(0)), Put::Refused(3));
        assert_eq!(pool(5, 0, None).put(a.clone(), 3, true, secs(0)), Put::Refused(3));
        assert_eq!(pool(5, 5, Some(0)).put(a, 3, true, secs(0)), Put::Refused(3));
    }

    #[test]
    fn take_is_most_recent_first_and_per_key() {
        let mut p = pool(5, 5, None);
        let (a, b) = (key("http://a/"), key("https://a/"));
        for (k, c) in [(&a, 1), (&b, 2), (&a, 3)] {
            assert_eq!(p.put(k.clone(), c, true, secs(0)), Put::Pooled);
        }
        assert_eq!(p.len_for(&a), 2);
        assert_eq!(p.take(&a, secs(1)), Some(3));
        assert_eq!(p.take(&a, secs(1)), Some(1));
        assert_eq!(p.take(&a, secs(1)), None);
        assert_eq!(p.take(&b, secs(1)), Some(2));
        assert!(p.is_empty());
    }

    #[test]
    fn limits_evict_the_oldest() {
        // Per key: the oldest of that key goes.
        let mut p = pool(2, 10, None);
        let (a, b) = (key("http://a/"), key("http://b/"));
        assert_eq!(p.put(a.clone(), 1, true, secs(0)), Put::Pooled);
        assert_eq!(p.put(b.clone(), 2, true, secs(0)), Put::Pooled);
        assert_eq!(p.put(a.clone(), 3, true, secs(1)), Put::Pooled);
        assert_eq!(p.put(a.clone(), 4, true, secs(2)), Put::Evicted(1));
        assert_eq!((p.len_for(&a), p.len()), (2, 3));
        // In all: the oldest anywhere goes.
        let mut p = pool(10, 2, None);
        assert_eq!(p.put(a.clone(), 1, true, secs(0)), Put::Pooled);
        assert_eq!(p.put(b.clone(), 2, true, secs(1)), Put::Pooled);
        assert_eq!(p.put(b.clone(), 3, true, secs(2)), Put::Evicted(1));
        assert_eq!(p.len_for(&a), 0);
        assert_eq!(p.put(a, 4, true, secs(3)).into_closed(), Some(2));
    }

    #[test]
    fn idle_expiry() {
        let mut p = pool(5, 5, Some(10));
        let a = key("http://a/");
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.put(a.clone(), 1, true, secs(0)), Put::Pooled);
        assert_eq!(p.put(a.clone(), 2, true, secs(5)), Put::Pooled);
        assert_eq!(p.poll_timeout(), Some(secs(10)));
        // Early: nothing. Due: the expired one only. Twice: nothing more.
        assert_eq!(p.handle_timeout(secs(9)), Vec::<u32>::new());
        assert_eq!(p.handle_timeout(secs(10)), [1]);
        assert_eq!(p.handle_timeout(secs(10)), Vec::<u32>::new());
        assert_eq!(p.poll_timeout(), Some(secs(15)));
        // take never hands out an expired connection.
        assert_eq!(p.take(&a, secs(15)), None);
        assert!(p.is_empty());
        // An idle timeout that overflows the clock means never.
        let mut p = pool(5, 5, Some(10));
        assert_eq!(p.put(a, 1, true, Duration::MAX), Put::Pooled);
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.drain(), [1]);
        assert!(p.is_empty());
    }

    #[test]
    fn forwarded_connections_are_shared_across_origins() {
        let proxy = Proxy::parse("http://proxy:3128").unwrap();
        let route = |u: &str| Route::new(&Url::parse(u).unwrap(), Some(proxy.clone()));
        let mut p = pool(5, 5, None);
        assert_eq!(p.put(route("http://a/").key(0), 1, true, secs(0)), Put::Pooled);
        assert_eq!(p.take(&route("http://b:8080/").key(0), secs(0)), Some(1));
        assert_eq!(p.put(route("https://a/").key(0), 2, true, secs(0)), Put::Pooled);
        assert_eq!(p.take(&route("https://b/").key(0), secs(0)), None);
        assert!(!alloc::format!("{p:?}").is_empty());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put { key: u8, reusable: bool },
        Take { key: u8 },
        Tick { secs: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3u8, any::<bool>()).prop_map(|(key, reusable)| Op::Put { key, reusable }),
            (0..3u8).prop_map(|key| Op::Take { key }),
            (0..20u8).prop_map(|secs| Op::Tick { secs }),
        ]
    }

    proptest! {
        /// Every connection put in is, exactly once, either still pooled or handed back; limits
        /// hold after every step; take never hands out an expired connection.
        #[test]
        fn conservation_and_limits(
            ops in proptest::collection::vec(op(), 0..60),
            per_key in 0..4usize,
            total in 0..6usize,
            idle in proptest::option::of(0..30u64),
        ) {
            let keys = [key("http://a/"), key("http://b/"), key("https://a/")];
            let mut p = pool(per_key, total, idle);
            let mut now = secs(0);
            let mut put_at = alloc::collections::BTreeMap::new();
            let mut out = alloc::collections::BTreeSet::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Put { key, reusable } => {
                        next += 1;
                        put_at.insert(next, now);
                        if let Some(c) = p.put(keys[usize::from(key)].clone(), next, reusable, now).into_closed() {
                            prop_assert!(out.insert(c));
                        }
                    }
                    Op::Take { key } => {
                        // Expired ones are collected first, so none is silently dropped.
                        for c in p.handle_timeout(now) {
                            prop_assert!(out.insert(c));
                        }
                        if let Some(c) = p.take(&keys[usize::from(key)], now) {
                            let fresh = idle.is_none_or(|d| put_at[&c] + secs(d) > now);
                            prop_assert!(fresh);
                            prop_assert!(out.insert(c));
                        }
                    }
                    Op::Tick { secs: s } => now += secs(u64::from(s)),
                }
                prop_assert!(p.len() <= total);
                for k in &keys {
                    prop_assert!(p.len_for(k) <= per_key);
                }
                let sum: usize = keys.iter().map(|k| p.len_for(k)).sum();
                prop_assert_eq!(sum, p.len());
            }
            for c in p.drain() {
                prop_assert!(out.insert(c));
            }
            prop_assert_eq!(out.len(), next as usize);
        }
    }
}
