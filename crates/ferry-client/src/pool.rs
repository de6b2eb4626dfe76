//! The client's pool: the core's idle books ([`ferry_proto::Pool`]) plus the count of open
//! connections per route, for a limit per host with waiting. No I/O: a driver closes what it
//! is handed back and waits when told to (a blocking driver on a condition variable, an async
//! one on a notification).

use std::collections::HashMap;

use ferry_proto::{Pool, PoolConfig, Put, Reusable, RouteKey, Timestamp};

/// A connection filed with its key, so that one evicted from anywhere is counted off the right
/// route.
struct Entry<C> {
    key: RouteKey,
    conn: C,
}

impl<C: Reusable<T>, T> Reusable<T> for Entry<C> {
    fn is_reusable(&self, now: T) -> bool {
        self.conn.is_reusable(now)
    }

    fn idle_deadline(&self) -> Option<T> {
        self.conn.idle_deadline()
    }
}

/// What [`ClientPool::checkout`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Checkout<C> {
    /// Use this idle connection (it was probed and is still reusable).
    Reuse(C),
    /// Open a new connection: a slot is reserved for it; give it back with
    /// [`ClientPool::checkin`] or [`ClientPool::release`].
    Open,
    /// The route has its limit of open connections: wait until one is checked in or released,
    /// then ask again.
    Wait,
}

/// Idle connections by route, and open ones counted per route.
pub struct ClientPool<C, T: Timestamp> {
    idle: Pool<Entry<C>, T>,
    /// Open connections per route: in use or idle.
    open: HashMap<RouteKey, usize>,
    max_per_route: Option<usize>,
    hits: u64,
    misses: u64,
}

impl<C: Reusable<T>, T: Timestamp> std::fmt::Debug for ClientPool<C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPool")
            .field("idle", &self.idle.len())
            .field("open", &self.open.values().sum::<usize>())
            .field("max_per_route", &self.max_per_route)
            .finish_non_exhaustive()
    }
}

impl<C: Reusable<T>, T: Timestamp> ClientPool<C, T> {
    /// A pool with the core's idle limits and at most `max_per_route` open connections per
    /// route (`None`: no limit).
    #[must_use]
    pub fn new(config: PoolConfig, max_per_route: Option<usize>) -> Self {
        ClientPool {
            idle: Pool::new(config),
            open: HashMap::new(),
            max_per_route: max_per_route.map(|n| n.max(1)),
            hits: 0,
            misses: 0,
        }
    }

    /// A connection for `key`: the newest idle one that `probe` finds still reusable, else a
    /// slot for a new one, else wait. `fresh` skips the idle ones (a rotating proxy wants a new
    /// connection per request). Connections found stale go to `close`; their slots are freed.
    pub fn checkout(
        &mut self,
        key: &RouteKey,
        now: T,
        fresh: bool,
        mut probe: impl FnMut(&mut C),
        close: &mut Vec<C>,
    ) -> Checkout<C> {
        if !fresh {
            let taken = self.idle.take(key, now, |e| probe(&mut e.conn));
            for stale in taken.stale {
                self.forget(&stale.key);
                close.push(stale.conn);
            }
            if let Some(entry) = taken.conn {
                self.hits += 1;
                return Checkout::Reuse(entry.conn);
            }
        }
        let open = self.open.get(key).copied().unwrap_or(0);
        if self.max_per_route.is_some_and(|max| open >= max) {
            // An idle connection of this route holds a slot a new one needs: close it.
            if fresh {
                let taken = self.idle.take(key, now, |_| {});
                for e in taken.stale.into_iter().chain(taken.conn) {
                    self.forget(&e.key);
                    close.push(e.conn);
                }
                if self.open.get(key).copied().unwrap_or(0) < open {
                    return self.open_slot(key);
                }
            }
            return Checkout::Wait;
        }
        self.open_slot(key)
    }

    fn open_slot(&mut self, key: &RouteKey) -> Checkout<C> {
        self.misses += 1;
        *self.open.entry(key.clone()).or_default() += 1;
        Checkout::Open
    }

    /// A connection of `key` is done with its exchange: kept if it is reusable (and the limits
    /// allow), else handed to `close`, its slot freed. Returns whether it was kept.
    pub fn checkin(&mut self, key: RouteKey, conn: C, now: T, close: &mut Vec<C>) -> bool {
        let put = self.idle.put(key.clone(), Entry { key, conn }, now);
        let kept = !matches!(put, Put::Refused(_));
        if let Some(e) = put.into_closed() {
            self.forget(&e.key);
            close.push(e.conn);
        }
        kept
    }

    /// A connection of `key` was closed (or never opened) outside the pool: its slot is free.
    pub fn release(&mut self, key: &RouteKey) {
        self.forget(key);
    }

    /// The earliest idle deadline: call [`ClientPool::handle_timeout`] then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.idle.poll_timeout()
    }

    /// Hands back the idle connections whose deadline passed, to be closed.
    #[inline]
    pub fn handle_timeout(&mut self, now: T, close: &mut Vec<C>) {
        // Nothing can have expired yet (the usual checkout): no call, no walk.
        if !self.idle.may_expire(now) {
            return;
        }
        for e in self.idle.handle_timeout(now) {
            self.forget(&e.key);
            close.push(e.conn);
        }
    }

    /// Idle connections in all.
    #[must_use]
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Open connections (in use or idle) of `key`.
    #[must_use]
    pub fn open(&self, key: &RouteKey) -> usize {
        self.open.get(key).copied().unwrap_or(0)
    }

    /// Checkouts that reused a connection, and those that opened one.
    #[must_use]
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn forget(&mut self, key: &RouteKey) {
        if let Some(n) = self.open.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open.remove(key);
            }
        }
    }
}
