//! Idle-connection bookkeeping, generic over the connection type: no sockets, no clock.
//!
//! The driver owns the connections' I/O; the pool only remembers which idle connection belongs
//! to which [`RouteKey`], since when, and which to close. It trusts no flag: whether a
//! connection may enter or leave is asked of the connection itself ([`Reusable`]), and a
//! connection that heard from its peer while it sat in the pool (bytes, or the end of the
//! stream) is never handed out. It follows the core's timer contract: [`Pool::poll_timeout`]
//! is the earliest idle deadline, [`Pool::handle_timeout`] may be called early or twice, and
//! `now` only moves forward.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use crate::conn::Connection;
use crate::route::RouteKey;
use crate::time::Timestamp;

/// What the pool asks of a connection. The connection answers; the pool never takes a
/// caller's word for it.
///
/// Implemented for the core's [`Connection`]; a driver implements it for its own connection
/// type (socket plus machine) by asking the machine.
pub trait Reusable<T> {
    /// Whether the connection may carry another request at `now`: no exchange under way, its
    /// last exchange ended `Done { reusable: true }`, nothing arrived since, and its idle
    /// deadline has not passed.
    fn is_reusable(&self, now: T) -> bool;

    /// When the connection stops being reusable if it stays idle, if ever.
    fn idle_deadline(&self) -> Option<T>;
}

/// A boxed connection answers as the connection: a driver pools its connections boxed, so
/// checking one out or in moves a pointer, not the whole machine.
impl<T, C: Reusable<T> + ?Sized> Reusable<T> for alloc::boxed::Box<C> {
    fn is_reusable(&self, now: T) -> bool {
        (**self).is_reusable(now)
    }

    fn idle_deadline(&self) -> Option<T> {
        (**self).idle_deadline()
    }
}

impl<T: Timestamp> Reusable<T> for Connection<T> {
    fn is_reusable(&self, now: T) -> bool {
        self.is_idle() && self.idle_deadline().is_none_or(|at| now < at)
    }

    fn idle_deadline(&self) -> Option<T> {
        // An idle connection arms only its idle timer.
        if self.is_idle() { self.poll_timeout() } else { None }
    }
}

/// The pool's limits. Idle time is not among them: it is the connection's own
/// [`Timeouts::idle`](crate::Timeouts), which the pool reads through [`Reusable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Idle connections kept per [`RouteKey`]; past it the oldest of that key is evicted.
    /// Default 10 (Requests' `pool_maxsize`). Zero disables pooling.
    pub max_idle_per_key: usize,
    /// Idle connections kept in all; past it the oldest anywhere is evicted. Default 100 (Go's
    /// `MaxIdleConns`). Zero disables pooling.
    pub max_idle: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { max_idle_per_key: 10, max_idle: 100 }
    }
}

impl PoolConfig {
    /// Sets [`PoolConfig::max_idle_per_key`].
    #[must_use]
    pub const fn with_max_idle_per_key(mut self, n: usize) -> Self {
        self.max_idle_per_key = n;
        self
    }

    /// Sets [`PoolConfig::max_idle`].
    #[must_use]
    pub const fn with_max_idle(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }
}

/// What [`Pool::put`] did with a connection. Every variant but `Pooled` hands back a connection
/// the driver must close.
#[must_use = "a refused or evicted connection must be closed"]
#[derive(Debug, PartialEq, Eq)]
pub enum Put<C> {
    /// The connection is in the pool.
    Pooled,
    /// The connection was not taken: it is not [reusable](Reusable::is_reusable), or the
    /// limits are zero.
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

/// What [`Pool::take`] found: at most one connection to use, and those it met on the way that
/// can no longer be used, to be closed by the driver.
#[must_use = "stale connections must be closed"]
#[derive(Debug, PartialEq, Eq)]
pub struct Take<C> {
    /// The most recently used connection of the key that is still reusable after its probe.
    pub conn: Option<C>,
    /// Connections of the key that expired, or heard from their peer while idle.
    pub stale: Vec<C>,
}

struct Idle<C, T> {
    conn: C,
    /// `None`: never expires. Read once at `put`: an idle connection's deadline is fixed.
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
/// Only a connection that says it is [reusable](Reusable::is_reusable) enters: for the core's
/// [`Connection`] that means idle after an `End::Done { reusable: true }`, its idle deadline
/// not passed. [`Pool::take`] gives the most recently used connection of a key, after the
/// driver's probe (a non-blocking read fed to the connection) and a second question to the
/// connection: one that received bytes or the end of its stream while pooled has closed itself
/// and is handed back as stale. Limits per key and in all evict the oldest; idle deadlines are
/// driven by [`Pool::poll_timeout`] and [`Pool::handle_timeout`], which hands the expired
/// connections back so the driver can close them.
///
/// ```
/// use core::time::Duration;
/// use bytes::BytesMut;
/// use ferry_proto::{Config, Connection, Output, Pool, PoolConfig, Put, Request, Route, Url};
///
/// let url = Url::parse("http://example.com/").unwrap();
/// let key = Route::direct(&url).key(0);
/// let mut pool: Pool<Connection<Duration>, Duration> = Pool::new(PoolConfig::default());
/// let t0 = Duration::ZERO;
///
/// // A connection waiting for its response is not reusable: the pool refuses it.
/// let mut busy = Connection::new(t0, Config::default());
/// busy.send_request(t0, &Request::get(url.clone())).unwrap();
/// assert!(matches!(pool.put(key.clone(), busy, t0), Put::Refused(_)));
///
/// // One whose exchange ended reusable enters, until its idle deadline (90 s by default).
/// let mut conn = Connection::new(t0, Config::default());
/// conn.send_request(t0, &Request::get(url)).unwrap();
/// while !matches!(conn.poll_output(), Output::NeedInput) {}
/// conn.handle_input(t0, &mut BytesMut::from(&b"HTTP/1.1 204 No Content\r\n\r\n"[..]));
/// while !matches!(conn.poll_output(), Output::Idle) {}
/// assert!(matches!(pool.put(key.clone(), conn, t0), Put::Pooled));
/// assert_eq!(pool.poll_timeout(), Some(Duration::from_secs(90)));
///
/// // The driver's probe finds nothing new on the socket: the connection is handed out.
/// let taken = pool.take(&key, Duration::from_secs(1), |_conn| {});
/// assert!(taken.conn.is_some() && taken.stale.is_empty());
/// ```
pub struct Pool<C, T: Timestamp> {
    config: PoolConfig,
    /// Per key, oldest at the front, most recently used at the back. A key's queue stays when
    /// it empties, so that a connection taken and put back, request after request, allocates
    /// nothing; empty queues beyond [`Pool::EMPTY_QUEUES_KEPT`] are dropped when a new key comes.
    idle: BTreeMap<RouteKey, VecDeque<Idle<C, T>>>,
    len: usize,
    next_seq: u64,
    /// No idle connection expires before this (it may be earlier than the true earliest
    /// deadline, never later): [`Pool::handle_timeout`] before it has nothing to do.
    no_expiry_before: Option<T>,
}

impl<C: Reusable<T>, T: Timestamp> Pool<C, T> {
    /// Empty queues (of keys with no idle connection now) kept for reuse at most; past it, a
    /// new key's arrival drops them. Bounds the pool's memory by the keys in use, not the keys
    /// ever seen.
    pub const EMPTY_QUEUES_KEPT: usize = 16;

    /// An empty pool with these limits.
    #[must_use]
    pub fn new(config: PoolConfig) -> Self {
        Pool { config, idle: BTreeMap::new(), len: 0, next_seq: 0, no_expiry_before: None }
    }

    /// The limits.
    #[must_use]
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Files `conn` as idle under `key` at `now`, if it [is reusable](Reusable::is_reusable)
    /// then; otherwise it is handed back to be closed. Cost: `O(log keys)`, plus `O(keys)` when
    /// the total limit evicts.
    pub fn put(&mut self, key: RouteKey, conn: C, now: T) -> Put<C> {
        if self.config.max_idle_per_key == 0 || self.config.max_idle == 0 {
            return Put::Refused(conn);
        }
        if !conn.is_reusable(now) {
            return Put::Refused(conn);
        }
        let expires = conn.idle_deadline();
        if let Some(at) = expires {
            self.no_expiry_before = Some(self.no_expiry_before.map_or(at, |b| b.min(at)));
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let idle = Idle { conn, expires, seq };
        // One look-up when the key's queue is there (a connection coming back to it).
        let queue = match self.idle.get_mut(&key) {
            Some(queue) => queue,
            None => {
                if self.idle.len() >= Self::EMPTY_QUEUES_KEPT {
                    self.idle.retain(|_, q| !q.is_empty());
                }
                self.idle.entry(key).or_default()
            }
        };
        queue.push_back(idle);
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

    /// The most recently used idle connection of `key` that is still reusable at `now`.
    ///
    /// Each candidate, newest first, is first handed to `probe`: the driver checks its
    /// transport without blocking and feeds the connection whatever it finds (bytes to
    /// `handle_input`, an end of stream to `handle_eof`). Then the connection is asked again;
    /// one that expired or heard from its peer goes to [`Take::stale`] to be closed, and the
    /// next candidate is tried.
    pub fn take(&mut self, key: &RouteKey, now: T, mut probe: impl FnMut(&mut C)) -> Take<C> {
        let mut taken = Take { conn: None, stale: Vec::new() };
        let Some(queue) = self.idle.get_mut(key) else { return taken };
        while let Some(mut idle) = queue.pop_back() {
            self.len -= 1;
            if !idle.expired(now) {
                probe(&mut idle.conn);
                if idle.conn.is_reusable(now) {
                    taken.conn = Some(idle.conn);
                    break;
                }
            }
            taken.stale.push(idle.conn);
        }
        // An emptied queue stays: the connection usually comes back to it.
        taken
    }

    /// Whether [`Pool::handle_timeout`] at `now` may have something to hand back (`false`:
    /// it would return nothing). Constant time: a driver may ask on every checkout.
    #[must_use]
    #[inline]
    pub fn may_expire(&self, now: T) -> bool {
        self.no_expiry_before.is_some_and(|at| now >= at)
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
        // Nothing can have expired yet: no walk (a driver calls this on every checkout).
        if !self.may_expire(now) {
            return out;
        }
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
            true
        });
        self.len -= out.len();
        self.no_expiry_before = self.poll_timeout();
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
            .field(
                "keys",
                &self
                    .idle
                    .iter()
                    .filter(|(_, q)| !q.is_empty())
                    .map(|(k, q)| (k, q.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Timeouts};
    use crate::conn::Output;
    use crate::request::Request;
    use crate::route::{Proxy, Route};
    use crate::url::Url;
    use alloc::vec;
    use bytes::BytesMut;
    use core::time::Duration;
    use proptest::prelude::*;

    fn key(url: &str) -> RouteKey {
        Route::direct(&Url::parse(url).unwrap()).key(0)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A stand-in connection: an id, whether it says it is reusable, its idle deadline, and
    /// whether its peer spoke while it was pooled (set by a probe).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Fake {
        id: u32,
        reusable: bool,
        deadline: Option<Duration>,
        heard: bool,
    }

    impl Reusable<Duration> for Fake {
        fn is_reusable(&self, now: Duration) -> bool {
            self.reusable && !self.heard && self.deadline.is_none_or(|at| now < at)
        }
        fn idle_deadline(&self) -> Option<Duration> {
            self.deadline
        }
    }

    fn fake(id: u32, deadline: Option<u64>) -> Fake {
        Fake { id, reusable: true, deadline: deadline.map(secs), heard: false }
    }

    fn pool(per_key: usize, total: usize) -> Pool<Fake, Duration> {
        Pool::new(PoolConfig::default().with_max_idle_per_key(per_key).with_max_idle(total))
    }

    fn quiet(_: &mut Fake) {}

    fn ids(conns: &[Fake]) -> Vec<u32> {
        conns.iter().map(|c| c.id).collect()
    }

    #[test]
    fn only_reusable_connections_enter() {
        let mut p = pool(2, 2);
        let a = key("http://a/");
        let busy = Fake { reusable: false, ..fake(1, None) };
        assert_eq!(p.put(a.clone(), busy, secs(0)), Put::Refused(busy));
        assert!(p.is_empty());
        assert_eq!(p.put(a.clone(), fake(2, Some(10)), secs(0)), Put::Pooled);
        assert_eq!((p.len(), p.is_empty()), (1, false));
        // Already past its deadline: refused.
        assert_eq!(p.put(a.clone(), fake(3, Some(5)), secs(5)), Put::Refused(fake(3, Some(5))));
        // Zero limits: nothing could ever be reused.
        assert_eq!(pool(0, 5).put(a.clone(), fake(4, None), secs(0)), Put::Refused(fake(4, None)));
        assert_eq!(pool(5, 0).put(a, fake(5, None), secs(0)), Put::Refused(fake(5, None)));
    }

    #[test]
    fn take_is_most_recent_first_and_per_key() {
        let mut p = pool(5, 5);
        let (a, b) = (key("http://a/"), key("https://a/"));
        for (k, c) in [(&a, 1), (&b, 2), (&a, 3)] {
            assert_eq!(p.put(k.clone(), fake(c, None), secs(0)), Put::Pooled);
        }
        assert_eq!(p.len_for(&a), 2);
        assert_eq!(p.take(&a, secs(1), quiet), Take { conn: Some(fake(3, None)), stale: vec![] });
        assert_eq!(p.take(&a, secs(1), quiet).conn.map(|c| c.id), Some(1));
        assert_eq!(p.take(&a, secs(1), quiet), Take { conn: None, stale: vec![] });
        assert_eq!(p.take(&b, secs(1), quiet).conn.map(|c| c.id), Some(2));
        assert!(p.is_empty());
    }

    #[test]
    fn a_deadline_put_after_a_quiet_handle_timeout_still_fires() {
        let mut p = pool(5, 5);
        let (a, b) = (key("http://a/"), key("http://b/"));
        assert_eq!(p.put(a.clone(), fake(1, Some(20)), secs(0)), Put::Pooled);
        assert_eq!(p.handle_timeout(secs(1)), vec![]);
        assert_eq!(p.put(b.clone(), fake(2, Some(5)), secs(2)), Put::Pooled);
        assert_eq!(p.handle_timeout(secs(4)), vec![]);
        assert_eq!(ids(&p.handle_timeout(secs(5))), [2]);
        assert_eq!(p.handle_timeout(secs(19)), vec![]);
        // The earliest left after a walk is the next bound.
        assert_eq!(ids(&p.handle_timeout(secs(20))), [1]);
        assert!(p.is_empty());
    }

    #[test]
    fn an_emptied_queue_is_kept_for_the_next_put_and_empty_queues_are_bounded() {
        let mut p = pool(5, 100);
        let a = key("http://a/");
        assert_eq!(p.put(a.clone(), fake(1, None), secs(0)), Put::Pooled);
        assert_eq!(p.take(&a, secs(1), quiet).conn.map(|c| c.id), Some(1));
        assert_eq!(p.idle.len(), 1, "the queue of a stays, to be reused by the next put");
        assert_eq!(p.handle_timeout(secs(2)), vec![]);
        assert_eq!(p.idle.len(), 1, "handle_timeout keeps it too");
        assert_eq!((p.len(), p.len_for(&a), p.poll_timeout()), (0, 0, None));
        assert!(alloc::format!("{p:?}").contains("keys: []"), "an empty key is not shown: {p:?}");
        // Many keys, each emptied: the empty queues do not pile up.
        for i in 0..100 {
            let k = key(&alloc::format!("http://h{i}/"));
            assert_eq!(p.put(k.clone(), fake(i, None), secs(3)), Put::Pooled);
            assert!(p.take(&k, secs(3), quiet).conn.is_some());
            assert!(p.idle.len() <= Pool::<Fake, Duration>::EMPTY_QUEUES_KEPT + 1);
        }
        assert!(p.is_empty());
    }

    #[test]
    fn a_connection_that_heard_from_its_peer_is_stale() {
        let mut p = pool(5, 5);
        let a = key("http://a/");
        for id in 1..=3 {
            assert_eq!(p.put(a.clone(), fake(id, None), secs(0)), Put::Pooled);
        }
        // The probe finds bytes (or EOF) on the two newest: both go back to be closed, the
        // oldest is handed out; each candidate was probed once, newest first.
        let mut probed = vec![];
        let taken = p.take(&a, secs(1), |c| {
            probed.push(c.id);
            c.heard = c.id != 1;
        });
        assert_eq!(probed, [3, 2, 1]);
        assert_eq!(taken.conn.map(|c| c.id), Some(1));
        assert_eq!(ids(&taken.stale), [3, 2]);
        assert_eq!((p.len(), p.len_for(&a)), (0, 0));
    }

    #[test]
    fn expired_connections_are_stale_without_a_probe() {
        let mut p = pool(5, 5);
        let a = key("http://a/");
        assert_eq!(p.put(a.clone(), fake(1, None), secs(0)), Put::Pooled);
        assert_eq!(p.put(a.clone(), fake(2, Some(10)), secs(0)), Put::Pooled);
        let mut probed = vec![];
        let taken = p.take(&a, secs(10), |c| probed.push(c.id));
        assert_eq!((taken.conn.map(|c| c.id), ids(&taken.stale)), (Some(1), vec![2]));
        assert_eq!(probed, [1], "an expired connection is not probed");
    }

    #[test]
    fn limits_evict_the_oldest() {
        // Per key: the oldest of that key goes.
        let mut p = pool(2, 10);
        let (a, b) = (key("http://a/"), key("http://b/"));
        assert_eq!(p.put(a.clone(), fake(1, None), secs(0)), Put::Pooled);
        assert_eq!(p.put(b.clone(), fake(2, None), secs(0)), Put::Pooled);
        assert_eq!(p.put(a.clone(), fake(3, None), secs(1)), Put::Pooled);
        assert_eq!(p.put(a.clone(), fake(4, None), secs(2)), Put::Evicted(fake(1, None)));
        assert_eq!((p.len_for(&a), p.len()), (2, 3));
        // In all: the oldest anywhere goes.
        let mut p = pool(10, 2);
        assert_eq!(p.put(a.clone(), fake(1, None), secs(0)), Put::Pooled);
        assert_eq!(p.put(b.clone(), fake(2, None), secs(1)), Put::Pooled);
        assert_eq!(p.put(b.clone(), fake(3, None), secs(2)), Put::Evicted(fake(1, None)));
        assert_eq!(p.len_for(&a), 0);
        assert_eq!(p.put(a, fake(4, None), secs(3)).into_closed(), Some(fake(2, None)));
    }

    #[test]
    fn idle_expiry() {
        let mut p = pool(5, 5);
        let a = key("http://a/");
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.put(a.clone(), fake(1, Some(10)), secs(0)), Put::Pooled);
        assert_eq!(p.put(a.clone(), fake(2, Some(15)), secs(5)), Put::Pooled);
        assert_eq!(p.poll_timeout(), Some(secs(10)));
        // Early: nothing. Due: the expired one only. Twice: nothing more.
        assert_eq!(ids(&p.handle_timeout(secs(9))), Vec::<u32>::new());
        assert_eq!(ids(&p.handle_timeout(secs(10))), [1]);
        assert_eq!(ids(&p.handle_timeout(secs(10))), Vec::<u32>::new());
        assert_eq!(p.poll_timeout(), Some(secs(15)));
        // take never hands out an expired connection; it hands it back instead.
        assert_eq!(
            p.take(&a, secs(15), quiet),
            Take { conn: None, stale: vec![fake(2, Some(15))] }
        );
        assert!(p.is_empty());
        // A connection that never expires.
        let mut p = pool(5, 5);
        assert_eq!(p.put(a, fake(1, None), Duration::MAX), Put::Pooled);
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(ids(&p.drain()), [1]);
        assert!(p.is_empty());
    }

    #[test]
    fn forwarded_connections_are_shared_across_origins() {
        let proxy = Proxy::parse("http://proxy:3128").unwrap();
        let route = |u: &str| Route::new(&Url::parse(u).unwrap(), Some(proxy.clone()));
        let mut p = pool(5, 5);
        assert_eq!(p.put(route("http://a/").key(0), fake(1, None), secs(0)), Put::Pooled);
        assert_eq!(
            p.take(&route("http://b:8080/").key(0), secs(0), quiet).conn,
            Some(fake(1, None))
        );
        assert_eq!(p.put(route("https://a/").key(0), fake(2, None), secs(0)), Put::Pooled);
        assert_eq!(p.take(&route("https://b/").key(0), secs(0), quiet).conn, None);
    }

    #[test]
    fn debug_shows_counts_per_key_and_no_connection() {
        let mut p: Pool<Fake, Duration> = pool(5, 5);
        let _ = p.put(key("http://a/"), fake(7, None), secs(0));
        let _ = p.put(key("http://a/"), fake(8, None), secs(0));
        let shown = alloc::format!("{p:?}");
        assert!(shown.contains("len: 2"), "{shown}");
        assert!(shown.contains(", 2)]"), "two connections under the one key: {shown}");
        assert!(!shown.contains("Fake"), "no connection is shown: {shown}");
    }

    // ---- with the core's own `Connection` --------------------------------------------------

    type Conn = Connection<Duration>;

    fn config(idle: u64) -> Config {
        Config::default().with_timeouts(Timeouts::default().with_idle(Some(secs(idle))))
    }

    /// A connection after one exchange that ended `Done { reusable: true }` at `now`.
    fn used(now: Duration, idle: u64) -> Conn {
        let mut conn = Conn::new(now, config(idle));
        conn.send_request(now, &Request::get(Url::parse("http://a/").unwrap())).unwrap();
        while !matches!(conn.poll_output(), Output::NeedInput) {}
        conn.handle_input(now, &mut BytesMut::from(&b"HTTP/1.1 204 No Content\r\n\r\n"[..]));
        while !matches!(conn.poll_output(), Output::Idle) {}
        conn
    }

    #[test]
    fn a_connection_awaiting_its_response_is_refused() {
        // `put(.., true, ..)` used to pool this one, and `take` handed it back.
        let mut p: Pool<Conn, Duration> = Pool::new(PoolConfig::default());
        let mut conn = Conn::new(secs(0), config(90));
        conn.send_request(secs(0), &Request::get(Url::parse("http://a/").unwrap())).unwrap();
        while !matches!(conn.poll_output(), Output::NeedInput) {}
        assert!(matches!(p.put(key("http://a/"), conn, secs(0)), Put::Refused(_)));
        assert!(p.is_empty());
    }

    #[test]
    fn the_connection_owns_the_idle_deadline() {
        let mut p: Pool<Conn, Duration> = Pool::new(PoolConfig::default());
        assert!(matches!(p.put(key("http://a/"), used(secs(3), 7), secs(3)), Put::Pooled));
        assert_eq!(p.poll_timeout(), Some(secs(10)));
        assert_eq!(p.handle_timeout(secs(10)).len(), 1);
    }

    #[test]
    fn a_connection_is_not_reusable_at_its_idle_deadline() {
        // The deadline is the first instant the connection is no longer reusable: at `now ==
        // deadline` the pool refuses it, like `handle_timeout(deadline)` closes it.
        let conn = used(secs(3), 7);
        let deadline = Reusable::<Duration>::idle_deadline(&conn);
        assert_eq!(deadline, Some(secs(10)));
        for (now, reusable) in
            [(secs(3), true), (secs(9), true), (secs(10), false), (secs(11), false)]
        {
            assert_eq!(conn.is_reusable(now), reusable, "now: {now:?}");
            let mut p: Pool<Conn, Duration> = Pool::new(PoolConfig::default());
            let put = p.put(key("http://a/"), used(secs(3), 7), now);
            assert_eq!(matches!(put, Put::Pooled), reusable, "now: {now:?}");
        }
    }

    #[test]
    fn bytes_or_eof_while_pooled_make_a_connection_stale() {
        let a = key("http://a/");
        for eof in [false, true] {
            let mut p: Pool<Conn, Duration> = Pool::new(PoolConfig::default());
            assert!(matches!(p.put(a.clone(), used(secs(0), 90), secs(0)), Put::Pooled));
            let taken = p.take(&a, secs(1), |conn| {
                if eof {
                    conn.handle_eof(secs(1), crate::conn::Eof::Clean);
                } else {
                    // A 408 sent before the server closed, say.
                    conn.handle_input(secs(1), &mut BytesMut::from(&b"HTTP/1.1 408 "[..]));
                }
            });
            assert!(taken.conn.is_none(), "eof: {eof}");
            assert_eq!(taken.stale.len(), 1, "eof: {eof}");
        }
        // A quiet probe: handed out.
        let mut p: Pool<Conn, Duration> = Pool::new(PoolConfig::default());
        assert!(matches!(p.put(a.clone(), used(secs(0), 90), secs(0)), Put::Pooled));
        let taken = p.take(&a, secs(1), |_| {});
        assert!(taken.conn.is_some_and(|c| c.is_idle()) && taken.stale.is_empty());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put { key: u8, reusable: bool, idle: Option<u8> },
        Take { key: u8, heard: bool },
        Tick { secs: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3u8, any::<bool>(), proptest::option::of(0..30u8))
                .prop_map(|(key, reusable, idle)| Op::Put { key, reusable, idle }),
            (0..3u8, any::<bool>()).prop_map(|(key, heard)| Op::Take { key, heard }),
            (0..20u8).prop_map(|secs| Op::Tick { secs }),
        ]
    }

    proptest! {
        /// Every connection put in is, exactly once, either still pooled or handed back; limits
        /// hold after every step; take never hands out an expired, unreusable or probed-stale
        /// connection.
        #[test]
        fn conservation_and_limits(
            ops in proptest::collection::vec(op(), 0..60),
            per_key in 0..4usize,
            total in 0..6usize,
        ) {
            let keys = [key("http://a/"), key("http://b/"), key("https://a/")];
            let mut p = pool(per_key, total);
            let mut now = secs(0);
            let mut out = alloc::collections::BTreeSet::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Put { key, reusable, idle } => {
                        next += 1;
                        let deadline = idle.map(|d| now + secs(u64::from(d)));
                        let c = Fake { id: next, reusable, deadline, heard: false };
                        if let Some(c) = p.put(keys[usize::from(key)].clone(), c, now).into_closed() {
                            prop_assert!(out.insert(c.id));
                        }
                    }
                    Op::Take { key, heard } => {
                        let taken = p.take(&keys[usize::from(key)], now, |c| c.heard = heard);
                        for c in taken.stale {
                            prop_assert!(out.insert(c.id));
                        }
                        if let Some(c) = taken.conn {
                            prop_assert!(c.is_reusable(now) && !heard);
                            prop_assert!(out.insert(c.id));
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
                prop_assert!(out.insert(c.id));
            }
            prop_assert_eq!(out.len(), next as usize);
        }
    }
}
