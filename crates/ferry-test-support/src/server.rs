//! The accept loop every server here shares: a listener on `127.0.0.1:0`, one thread per
//! connection, a registry of open sockets, and a shutdown on drop that wakes the accept loop by
//! connecting to it, shuts every socket down and joins the threads (within a bound).

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long an idle connection of a test server lives at most: a safety net, not a feature.
pub(crate) const IDLE: Duration = Duration::from_secs(30);

/// How long a drop waits for connection threads before leaving them detached.
const JOIN_BOUND: Duration = Duration::from_secs(2);

/// Locks a mutex, taking the data even if a panicking thread poisoned it (a failed test thread
/// must not hide the counters from the others).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the accept loop and every connection thread share.
#[derive(Default)]
pub(crate) struct Registry {
    stopping: AtomicBool,
    accepted: AtomicUsize,
    next_id: AtomicU64,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Removes a socket from the registry when the connection that owns it ends.
pub(crate) struct Tracked<'a> {
    registry: &'a Registry,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        lock(&self.registry.sockets).remove(&self.id);
    }
}

impl Registry {
    /// Registers a socket (a clone of it) so that a shutdown can unblock whoever reads it.
    pub(crate) fn track(&self, stream: &TcpStream) -> Tracked<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&self.sockets).insert(id, clone);
        }
        if self.stopping.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Tracked { registry: self, id }
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A connection handler: gets each accepted socket on its own thread.
pub(crate) type Handler = Arc<dyn Fn(TcpStream, &Registry) + Send + Sync>;

/// A running listener on `127.0.0.1`, stopped on drop.
pub(crate) struct Server {
    addr: SocketAddr,
    registry: Arc<Registry>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves each connection with `handler` on its own thread.
    pub(crate) fn start(name: &str, handler: Handler) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let registry = Arc::new(Registry::default());
        let shared = Arc::clone(&registry);
        let thread_name = format!("{name}-conn");
        let accept = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(&listener, &shared, &handler, &thread_name))?;
        Ok(Server { addr, registry, accept: Some(accept) })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared registry (for the accepted-connections counter).
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn accept_loop(listener: &TcpListener, registry: &Arc<Registry>, handler: &Handler, name: &str) {
    loop {
        let accepted = listener.accept();
        if registry.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted handshake: try again shortly.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        registry.accepted.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(IDLE));
        let _ = stream.set_write_timeout(Some(IDLE));
        let (registry2, handler2) = (Arc::clone(registry), Arc::clone(handler));
        let spawned = thread::Builder::new().name(name.to_owned()).spawn(move || {
            let tracked = registry2.track(&stream);
            handler2(stream, &registry2);
            drop(tracked);
        });
        let mut threads = lock(&registry.threads);
        threads.retain(|t| !t.is_finished());
        if let Ok(handle) = spawned {
            threads.push(handle);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.registry.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for socket in lock(&self.registry.sockets).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.registry.threads));
        let deadline = Instant::now() + JOIN_BOUND;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// A server-side connection: plain TCP or TLS over it.
pub(crate) trait Conn: io::Read + io::Write + Send {
    /// Ends the connection politely: a TLS `close_notify` first, then a FIN.
    fn finish(&mut self);
}

impl Conn for TcpStream {
    fn finish(&mut self) {
        let _ = io::Write::flush(self);
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = io::Write::flush(self);
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}
