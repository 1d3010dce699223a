//! Turns Nagle's algorithm off on this process's Postgres sockets.
//!
//! sqlx 0.9.0 connects without `TCP_NODELAY` (a regression: upstream issue 4335, fixed by
//! pull request 4336 for the next release). A query larger than one TCP segment then leaves
//! its last, short segment waiting for the server's delayed ACK: 40 ms per large batch. The
//! ingest benchmark went from 4.7k msgs/s with a 50 ms p99 to 13k msgs/s with a 10 ms p99 on
//! a Unix socket, which has no Nagle. sqlx exposes no socket hook, so after each new
//! connection this finds the process's TCP sockets whose peer port is the Postgres port and
//! sets the option on them (idempotent, harmless on any other TCP socket).
//!
//! Remove this module when sqlx sets `TCP_NODELAY` itself again.

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to `port`; returns how
/// many it set. Linux only; elsewhere it does nothing.
#[cfg(target_os = "linux")]
pub fn apply(port: u16) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::c_int>().ok())
        .filter(|fd| peer_port(*fd) == Some(port))
        .filter(|fd| set_nodelay(*fd))
        .count()
}

#[cfg(not(target_os = "linux"))]
pub fn apply(_port: u16) -> usize {
    0
}

#[cfg(target_os = "linux")]
fn peer_port(fd: libc::c_int) -> Option<u16> {
    // SAFETY: `storage` is a zeroed sockaddr_storage large enough for any address family and
    // `len` says so; getpeername writes at most `len` bytes and fails on non-sockets.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc =
        unsafe { libc::getpeername(fd, (&raw mut storage).cast::<libc::sockaddr>(), &mut len) };
    if rc != 0 {
        return None;
    }
    match libc::c_int::from(storage.ss_family) {
        // SAFETY: the family says which sockaddr layout the kernel wrote.
        libc::AF_INET => Some(u16::from_be(unsafe {
            (*(&raw const storage).cast::<libc::sockaddr_in>()).sin_port
        })),
        libc::AF_INET6 => Some(u16::from_be(unsafe {
            (*(&raw const storage).cast::<libc::sockaddr_in6>()).sin6_port
        })),
        _ => None,
    }
}

#[cfg(target_os = "linux")]
fn set_nodelay(fd: libc::c_int) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: passes a pointer to a live c_int and its size; fails harmlessly on non-TCP fds.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw const one).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn nodelay_is_set_on_sockets_to_the_given_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        assert!(!client.nodelay().expect("read option"));
        assert!(super::apply(port) >= 1);
        assert!(client.nodelay().expect("read option"));
    }
}
