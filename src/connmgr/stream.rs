//! Byte streams under an OpenFlow connection: TCP, Unix and TLS over TCP, all non-blocking.
//!
//! [`Stream`] reads what has arrived and writes what the kernel takes, never waiting. TLS is
//! rustls driven by hand (`read_tls`/`process_new_packets`/`write_tls`) over a non-blocking
//! socket, so it costs the control lcore nothing while the peer is slow. [`Connecting`] is an
//! outgoing TCP connect in progress (`EINPROGRESS`), checked once per poll. [`Listener`] accepts
//! service connections.
//!
//! TLS follows Open vSwitch's model: both sides present a certificate signed by the configured
//! CA, and the peer's certificate chain is checked against that CA; host names are not checked
//! (controllers are usually addressed by IP and their certificates rarely name it).

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme,
};

use super::ConnmgrError;

/// Files for TLS: our private key and certificate, and the CA that signs our peers'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub private_key: PathBuf,
    pub certificate: PathBuf,
    pub ca_cert: PathBuf,
}

/// Loaded TLS settings, shared by every TLS connection.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
}

fn tls_error(path: &Path, what: impl std::fmt::Display) -> ConnmgrError {
    ConnmgrError::Tls {
        path: path.to_path_buf(),
        reason: what.to_string(),
    }
}

impl TlsConfigs {
    pub fn load(files: &TlsFiles) -> Result<TlsConfigs, ConnmgrError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| tls_error(&files.certificate, e))?;
        if certs.is_empty() {
            return Err(tls_error(&files.certificate, "no certificate in file"));
        }
        let key = PrivateKeyDer::from_pem_file(&files.private_key)
            .map_err(|e| tls_error(&files.private_key, e))?;
        let mut roots = RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&files.ca_cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| tls_error(&files.ca_cert, e))?;
        for ca in cas {
            roots.add(ca).map_err(|e| tls_error(&files.ca_cert, e))?;
        }
        if roots.is_empty() {
            return Err(tls_error(&files.ca_cert, "no CA certificate in file"));
        }
        let roots = Arc::new(roots);

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| tls_error(&files.ca_cert, e))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(&files.certificate, e))?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| tls_error(&files.private_key, e))?;

        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| tls_error(&files.ca_cert, e))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(&files.certificate, e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CaOnlyVerifier { inner }))
            .with_client_auth_cert(certs, key)
            .map_err(|e| tls_error(&files.private_key, e))?;
        Ok(TlsConfigs {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

/// Checks a controller's certificate chain against the CA but not the name in it.
#[derive(Debug)]
struct CaOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for CaOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // The name is checked only after the chain, so this error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The most plaintext handed to rustls before its records have gone out: rustls buffers
/// without limit, so the connection's own bounded queue must stay the only queue.
const TLS_PLAINTEXT_CHUNK: usize = 16 * 1024;

/// A connected, non-blocking byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

#[derive(Debug)]
pub(crate) struct TlsStream {
    sock: TcpStream,
    tls: rustls::Connection,
}

/// What one read pass found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// Some bytes (maybe none) arrived; the stream is still open.
    Open,
    /// The peer closed its side.
    Closed,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Stream {
    pub fn tls_server(sock: TcpStream, config: &Arc<ServerConfig>) -> io::Result<Stream> {
        let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        Ok(Stream::Tls(Box::new(TlsStream {
            sock,
            tls: rustls::Connection::Server(conn),
        })))
    }

    pub fn tls_client(
        sock: TcpStream,
        config: &Arc<ClientConfig>,
        peer: SocketAddr,
    ) -> io::Result<Stream> {
        let conn = ClientConnection::new(config.clone(), ServerName::from(peer.ip()))
            .map_err(io::Error::other)?;
        Ok(Stream::Tls(Box::new(TlsStream {
            sock,
            tls: rustls::Connection::Client(conn),
        })))
    }

    /// Appends what has arrived to `buf`, reading at most about `limit` bytes.
    pub fn read_into(&mut self, buf: &mut Vec<u8>, limit: usize) -> io::Result<ReadOutcome> {
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        match self {
            Stream::Tcp(_) | Stream::Unix(_) => {
                while total < limit {
                    let r = match self {
                        Stream::Tcp(s) => s.read(&mut chunk),
                        Stream::Unix(s) => s.read(&mut chunk),
                        Stream::Tls(_) => unreachable!("matched above"),
                    };
                    match r {
                        Ok(0) => return Ok(ReadOutcome::Closed),
                        Ok(n) => {
                            buf.extend_from_slice(&chunk[..n]);
                            total += n;
                        }
                        Err(e) if would_block(&e) => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(ReadOutcome::Open)
            }
            Stream::Tls(t) => t.read_into(buf, limit),
        }
    }

    /// Writes from `data`; returns how many bytes were taken (0 when the socket is full).
    pub fn write_from(&mut self, data: &[u8]) -> io::Result<usize> {
        let r = match self {
            Stream::Tcp(s) => s.write(data),
            Stream::Unix(s) => s.write(data),
            Stream::Tls(t) => return t.write_from(data),
        };
        match r {
            Ok(n) => Ok(n),
            Err(e) if would_block(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Says goodbye without losing anything: a TLS close_notify, then a FIN. The socket stays
    /// open for reading so that the peer's last bytes can be drained before it is closed:
    /// closing with unread input makes the kernel send a reset, which may destroy bytes the
    /// peer has received but not yet read.
    pub fn shutdown_write(&mut self) {
        let sock_result = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tls(t) => {
                t.tls.send_close_notify();
                // Best effort: the queue was flushed before, so the socket has room for it.
                let _ = t.flush_records();
                t.sock.shutdown(std::net::Shutdown::Write)
            }
        };
        // The peer may be gone already; there is nothing left to tell it then.
        let _ = sock_result;
    }

    /// True while bytes accepted by [`Stream::write_from`] still wait inside the stream.
    pub fn has_buffered_output(&self) -> bool {
        match self {
            Stream::Tls(t) => t.tls.wants_write(),
            _ => false,
        }
    }

    /// Pushes out bytes the stream holds internally (TLS records).
    pub fn flush_internal(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(t) => t.flush_records(),
            _ => Ok(()),
        }
    }
}

impl TlsStream {
    fn flush_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn write_from(&mut self, data: &[u8]) -> io::Result<usize> {
        self.flush_records()?;
        if self.tls.wants_write() {
            return Ok(0);
        }
        let n = data.len().min(TLS_PLAINTEXT_CHUNK);
        let taken = self.tls.writer().write(&data[..n])?;
        self.flush_records()?;
        Ok(taken)
    }

    fn read_into(&mut self, buf: &mut Vec<u8>, limit: usize) -> io::Result<ReadOutcome> {
        let mut total = 0;
        let mut eof = false;
        while total < limit && !eof {
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.tls.process_new_packets() {
                // Let the peer know why (an alert), then give up on the connection.
                let _ = self.flush_records();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            total += self.drain_plaintext(buf)?;
        }
        // Handshake messages may need answering even when no application data arrived.
        self.flush_records()?;
        if eof {
            self.drain_plaintext(buf)?;
            return Ok(ReadOutcome::Closed);
        }
        Ok(ReadOutcome::Open)
    }

    fn drain_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        loop {
            match self.tls.reader().read(&mut chunk) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    total += n;
                }
                Err(e) if would_block(&e) => return Ok(total),
                // The peer closed without close_notify: the stream ends here.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(total),
                Err(e) => return Err(e),
            }
        }
    }
}

/// An outgoing TCP connection that has not completed yet.
#[derive(Debug)]
pub(crate) struct Connecting {
    socket: socket2::Socket,
    pub addr: SocketAddr,
}

impl Connecting {
    /// Starts a non-blocking connect to `addr`.
    pub fn start(addr: SocketAddr) -> io::Result<Connecting> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_nonblocking(true)?;
        socket.set_nodelay(true)?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || would_block(&e) => {}
            Err(e) => return Err(e),
        }
        Ok(Connecting { socket, addr })
    }

    /// `Ok(true)` once connected, `Ok(false)` while still trying, `Err` on failure.
    pub fn check(&self) -> io::Result<bool> {
        if let Some(e) = self.socket.take_error()? {
            return Err(e);
        }
        match self.socket.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn into_stream(self) -> TcpStream {
        self.socket.into()
    }
}

/// A listening socket for service connections.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp {
        listener: TcpListener,
        tls: bool,
    },
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

/// An accepted, non-blocking, not yet wrapped connection.
pub(crate) enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

impl Listener {
    pub fn bind_tcp(addr: SocketAddr, tls: bool) -> io::Result<Listener> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Tcp { listener, tls })
    }

    /// Binds a Unix socket, replacing a stale socket file but never a live one.
    pub fn bind_unix(path: &Path) -> io::Result<Listener> {
        if let Ok(meta) = fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a socket",
                ));
            }
            match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another process listens there",
                    ))
                }
                Err(_) => fs::remove_file(path)?,
            }
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Unix {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp { listener, .. } => listener.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Listener::Tcp { tls: true, .. })
    }

    /// One pending connection, if any. Errors other than "nobody waiting" are transient for a
    /// listener (a client that gave up, descriptors running out) and also read as `None`.
    pub fn accept(&self) -> Option<Accepted> {
        match self {
            Listener::Tcp { listener, .. } => {
                let (s, a) = listener.accept().ok()?;
                s.set_nonblocking(true).ok()?;
                let _ = s.set_nodelay(true);
                Some(Accepted::Tcp(s, a))
            }
            Listener::Unix { listener, .. } => {
                let (s, _) = listener.accept().ok()?;
                s.set_nonblocking(true).ok()?;
                Some(Accepted::Unix(s))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, .. } = self {
            // Nothing useful can be done about a failure while shutting down.
            let _ = fs::remove_file(path);
        }
    }
}
