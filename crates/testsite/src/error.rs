//! The crate's one error type. The server API returns `std::io::Result` (as tests expect);
//! these errors travel inside the `io::Error` so the context (which host, which address) survives.

use std::io;

/// Why a test site could not start.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The [`SiteSpec`](crate::SiteSpec) is unusable.
    #[error("invalid site spec: {0}")]
    InvalidSpec(String),
    /// Binding host `host`'s listener to `addr` failed.
    #[error("cannot bind host {host} to {addr}")]
    Bind {
        /// Host index.
        host: usize,
        /// The address that was tried.
        addr: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The requested port for host `host` does not fit in a u16.
    #[error("port for host {host} overflows (first port {first_port})")]
    PortOverflow {
        /// Host index.
        host: usize,
        /// The first host's port.
        first_port: u16,
    },
}

impl From<SiteError> for io::Error {
    fn from(e: SiteError) -> io::Error {
        let kind = match &e {
            SiteError::InvalidSpec(_) | SiteError::PortOverflow { .. } => {
                io::ErrorKind::InvalidInput
            }
            SiteError::Bind { source, .. } => source.kind(),
        };
        io::Error::new(kind, e)
    }
}
