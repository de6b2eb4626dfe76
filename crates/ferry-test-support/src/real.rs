//! Real proxies nobody here wrote: tinyproxy and squid, Debian's binaries, configured per test
//! in a temporary directory (Basic auth, CONNECT allowed to the test's ports), started in the
//! foreground on a free `127.0.0.1` port, and killed on drop.
//!
//! A test that needs one skips (with a printed reason) only when the binary is missing:
//!
//! ```no_run
//! use ferry_test_support::real::{RealProxy, RealProxyOptions};
//!
//! let options = RealProxyOptions { basic_auth: Some(("u".into(), "p".into())), connect_ports: vec![8443] };
//! let proxy = match RealProxy::squid(&options) {
//!     Ok(proxy) => proxy,
//!     Err(e) if e.is_not_installed() => return eprintln!("skipped: {e}"),
//!     Err(e) => panic!("{e}"),
//! };
//! assert!(proxy.url().starts_with("http://127.0.0.1:"));
//! ```
//!
//! `.ci/run` installs both packages when they are missing.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use crate::proxy::with_credentials;

/// How long a real proxy may take to accept connections.
const STARTUP: Duration = Duration::from_secs(20);

/// Where Debian (and others) put squid's Basic auth helper.
const NCSA_HELPERS: [&str; 3] = [
    "/usr/lib/squid/basic_ncsa_auth",
    "/usr/lib64/squid/basic_ncsa_auth",
    "/usr/libexec/squid/basic_ncsa_auth",
];

/// How a real proxy is configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RealProxyOptions {
    /// Require Basic auth with this user and password (printable ASCII without spaces; no `:`
    /// in the user).
    pub basic_auth: Option<(String, String)>,
    /// The ports CONNECT may reach; empty: any port.
    pub connect_ports: Vec<u16>,
}

/// Why a real proxy is not running.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RealProxyError {
    /// The binary (or a helper it needs) is not installed: a test prints this and skips.
    NotInstalled {
        /// What is missing, e.g. `squid`.
        binary: String,
    },
    /// The options cannot be written into the proxy's configuration.
    BadOptions {
        /// Why.
        reason: String,
    },
    /// It is installed but did not start: a broken test, not a skip.
    Failed {
        /// What went wrong, with the end of the proxy's log.
        reason: String,
    },
}

impl RealProxyError {
    /// Whether the binary is missing (the one case a test may skip on).
    #[must_use]
    pub fn is_not_installed(&self) -> bool {
        matches!(self, RealProxyError::NotInstalled { .. })
    }
}

impl fmt::Display for RealProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealProxyError::NotInstalled { binary } => {
                write!(f, "{binary} is not installed (apt-get install tinyproxy squid)")
            }
            RealProxyError::BadOptions { reason } => write!(f, "bad real proxy options: {reason}"),
            RealProxyError::Failed { reason } => {
                write!(f, "the real proxy did not start: {reason}")
            }
        }
    }
}

impl std::error::Error for RealProxyError {}

/// A running tinyproxy or squid on `127.0.0.1`, killed when dropped.
pub struct RealProxy {
    name: &'static str,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RealProxy {
    /// Starts tinyproxy (`tinyproxy -d -c CONF`) with these options.
    ///
    /// # Errors
    /// [`RealProxyError::NotInstalled`] without the binary, [`RealProxyError::BadOptions`] for
    /// credentials it cannot take, [`RealProxyError::Failed`] when it does not start.
    pub fn tinyproxy(options: &RealProxyOptions) -> Result<RealProxy, RealProxyError> {
        let binary = find_binary("tinyproxy")?;
        check(options)?;
        start("tinyproxy", 3, |dir, port| {
            let mut conf = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Info\n\
                 PidFile \"{pid}\"\nAllow 127.0.0.1\n",
                pid = dir.join("tinyproxy.pid").display(),
            );
            if let Some((user, pass)) = &options.basic_auth {
                conf.push_str(&format!("BasicAuth {user} {pass}\n"));
            }
            for port in &options.connect_ports {
                conf.push_str(&format!("ConnectPort {port}\n"));
            }
            let path = dir.join("tinyproxy.conf");
            write_file(&path, &conf)?;
            let mut command = Command::new(&binary);
            command.arg("-d").arg("-c").arg(path);
            Ok(command)
        })
    }

    /// Starts squid (`squid -N -f CONF`) with these options: no disk cache, nothing cached,
    /// pid and logs in the temporary directory, Basic auth through `basic_ncsa_auth` and a
    /// password file made here, and its own ACLs (not the default `SSL_ports`/`Safe_ports`)
    /// so CONNECT reaches the test ports. DNS, if ever asked, goes to 127.0.0.1 only.
    ///
    /// # Errors
    /// [`RealProxyError::NotInstalled`] without squid or its helper,
    /// [`RealProxyError::BadOptions`] for credentials it cannot take,
    /// [`RealProxyError::Failed`] when it does not start.
    pub fn squid(options: &RealProxyOptions) -> Result<RealProxy, RealProxyError> {
        let binary = find_binary("squid")?;
        check(options)?;
        let helper = match &options.basic_auth {
            None => None,
            Some(_) => Some(
                NCSA_HELPERS.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
                    RealProxyError::NotInstalled { binary: "squid's basic_ncsa_auth".to_owned() }
                })?,
            ),
        };
        start("squid", 3, |dir, port| {
            let d = dir.display();
            let mut conf = format!(
                "http_port 127.0.0.1:{port}\n\
                 pid_filename {d}/squid.pid\n\
                 cache_log {d}/cache.log\n\
                 access_log stdio:{d}/access.log\n\
                 cache_store_log none\n\
                 coredump_dir {d}\n\
                 cache deny all\n\
                 cache_mem 8 MB\n\
                 cache_effective_user {user}\n\
                 pinger_enable off\n\
                 netdb_filename none\n\
                 dns_nameservers 127.0.0.1\n\
                 shutdown_lifetime 0 seconds\n\
                 logfile_rotate 0\n\
                 max_filedescriptors 1024\n\
                 acl ferry_connect method CONNECT\n",
                user = squid_user(),
            );
            if !options.connect_ports.is_empty() {
                let ports: Vec<String> = options.connect_ports.iter().map(u16::to_string).collect();
                conf.push_str(&format!("acl ferry_ports port {}\n", ports.join(" ")));
                conf.push_str("http_access deny ferry_connect !ferry_ports\n");
            }
            match (&options.basic_auth, &helper) {
                (Some((user, pass)), Some(helper)) => {
                    let passwd = dir.join("passwd");
                    let digest = Md5::digest(pass.as_bytes());
                    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                    write_file(&passwd, &format!("{user}:{hex}\n"))?;
                    conf.push_str(&format!(
                        "auth_param basic program {} {}\n\
                         auth_param basic children 2 startup=1\n\
                         auth_param basic realm ferry\n\
                         acl ferry_auth proxy_auth REQUIRED\n\
                         http_access allow localhost ferry_auth\n",
                        helper.display(),
                        passwd.display(),
                    ));
                }
                _ => conf.push_str("http_access allow localhost\n"),
            }
            conf.push_str("http_access deny all\n");
            let path = dir.join("squid.conf");
            write_file(&path, &conf)?;
            let mut command = Command::new(&binary);
            command.arg("-N").arg("-f").arg(path);
            Ok(command)
        })
    }

    /// Which proxy this is: `tinyproxy` or `squid`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The listening address (`127.0.0.1:port`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The listening port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:port`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://user:pass@127.0.0.1:port`, each percent-encoded.
    #[must_use]
    pub fn url_with_credentials(&self, user: &str, pass: &str) -> String {
        with_credentials(&self.url(), user, pass)
    }

    /// The proxy's logs so far (its output, and squid's cache and access logs), for the
    /// message of a failing test.
    #[must_use]
    pub fn log(&self) -> String {
        logs(self.dir.path())
    }
}

impl fmt::Debug for RealProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealProxy").field("name", &self.name).field("port", &self.port).finish()
    }
}

impl Drop for RealProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Looks for a binary on `PATH` and in the sbin directories a non-root `PATH` lacks.
fn find_binary(name: &str) -> Result<PathBuf, RealProxyError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let fixed = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"];
    std::env::split_paths(&path)
        .chain(fixed.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| RealProxyError::NotInstalled { binary: name.to_owned() })
}

/// Credentials both config formats take as they are.
fn check(options: &RealProxyOptions) -> Result<(), RealProxyError> {
    let Some((user, pass)) = &options.basic_auth else { return Ok(()) };
    let plain = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"\"#%\\".contains(&b))
    };
    if !plain(user) || user.contains(':') || !plain(pass) {
        return Err(RealProxyError::BadOptions {
            reason: "user and password must be printable ASCII without spaces, quotes, #, % or \\ (and no : in the user)".to_owned(),
        });
    }
    Ok(())
}

/// The user squid drops to when started as root: `proxy` where Debian's package made it.
fn squid_user() -> &'static str {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    if passwd.lines().any(|l| l.starts_with("proxy:")) { "proxy" } else { "nobody" }
}

fn write_file(path: &Path, text: &str) -> Result<(), RealProxyError> {
    let failed = |e: std::io::Error| RealProxyError::Failed {
        reason: format!("writing {}: {e}", path.display()),
    };
    let mut file = fs::File::create(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(failed)
}

/// Starts a proxy on a free port made by `configure`, retrying on a fresh port when it exits
/// early (another process may have taken the port between the pick and the bind).
fn start(
    name: &'static str,
    tries: u32,
    configure: impl Fn(&Path, u16) -> Result<Command, RealProxyError>,
) -> Result<RealProxy, RealProxyError> {
    let mut last = None;
    for _ in 0..tries {
        let failed = |what: &str, e: std::io::Error| RealProxyError::Failed {
            reason: format!("{what}: {e}"),
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("ferry-{name}-"))
            .tempdir()
            .map_err(|e| failed("a temporary directory", e))?;
        // The proxy may drop root for another user: let it write its logs and pid here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777))
            .map_err(|e| failed("opening the temporary directory", e))?;
        let port = free_port().map_err(|e| failed("a free port", e))?;
        let mut command = configure(dir.path(), port)?;
        let out =
            fs::File::create(dir.path().join("output.log")).map_err(|e| failed("a log file", e))?;
        let err = out.try_clone().map_err(|e| failed("a log file", e))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command.spawn().map_err(|e| failed(&format!("spawning {name}"), e))?;
        let mut proxy = RealProxy { name, child, port, dir };
        match wait_ready(&mut proxy) {
            Ok(()) => return Ok(proxy),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(RealProxyError::Failed { reason: "no attempt made".to_owned() }))
}

/// Waits (bounded by [`STARTUP`]) until the proxy accepts a connection.
fn wait_ready(proxy: &mut RealProxy) -> Result<(), RealProxyError> {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            return Err(RealProxyError::Failed {
                reason: format!("{} exited with {status}:\n{}", proxy.name, tail(&proxy.log())),
            });
        }
        if TcpStream::connect_timeout(&proxy.addr(), Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RealProxyError::Failed {
                reason: format!(
                    "{} did not listen within {STARTUP:?}:\n{}",
                    proxy.name,
                    tail(&proxy.log())
                ),
            });
        }
        thread::sleep(Duration::from_millis(25));
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for file in ["output.log", "cache.log", "access.log"] {
        if let Ok(text) = fs::read_to_string(dir.join(file)) {
            out.push_str(&format!("== {file}\n{text}"));
        }
    }
    out
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
