//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`): "READY=1" once the daemon polls,
//! "STOPPING=1" on shutdown, and "WATCHDOG=1" pings while the poller shows life — so systemd
//! restarts a daemon that hangs, not only one that exits. Without `$NOTIFY_SOCKET` (not under
//! systemd) every call does nothing.

use std::time::Duration;

/// Send one notification; errors are ignored (a missing socket must never stop the daemon).
pub fn notify(state: &str) {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
        let bytes = path.as_encoded_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name),
            None => SocketAddr::from_pathname(&path),
        };
        if let (Ok(socket), Ok(addr)) = (UnixDatagram::unbound(), addr) {
            let _ = socket.send_to_addr(state.as_bytes(), &addr);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = state;
}

/// The watchdog interval systemd asked for (`$WATCHDOG_USEC`, for this process).
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok())
        && pid != std::process::id()
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Ping the watchdog at half its interval for as long as `alive()` says the daemon is healthy;
/// when it stops saying so, the pings stop and systemd restarts the service.
pub fn spawn_watchdog(alive: fn() -> bool) {
    let Some(interval) = watchdog_interval() else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval / 2);
        loop {
            tick.tick().await;
            if alive() {
                notify("WATCHDOG=1");
            } else {
                tracing::error!("the poller shows no progress; withholding the watchdog ping so systemd restarts it");
            }
        }
    });
}
