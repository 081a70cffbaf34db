//! TLS: `pssl:` with ovs-ofctl (OpenSSL, a client we did not write), `ssl:` to a controller,
//! and peers without a valid certificate. Certificates are made at test time with rcgen.

mod connmgr_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connmgr_common::*;
use ferrovs::connmgr::{ConnmgrConfig, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// A CA, and a switch and a controller certificate signed by it; plus a second CA with
    /// an "intruder" certificate the first CA did not sign.
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("ferrovs-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let make_ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, name);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let key = KeyPair::generate().unwrap();
            let cert = p.self_signed(&key).unwrap();
            (cert, key)
        };
        let (ca, ca_key) = make_ca("ferrovs test CA");
        let (other_ca, other_key) = make_ca("someone else");
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let leaf = |name: &str, signer: &rcgen::Certificate, signer_key: &KeyPair| {
            let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            p.distinguished_name.push(DnType::CommonName, name);
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, signer, signer_key).unwrap();
            std::fs::write(dir.join(format!("{name}-cert.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
        };
        leaf("switch", &ca, &ca_key);
        leaf("controller", &ca, &ca_key);
        leaf("intruder", &other_ca, &other_key);
        Pki { dir }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }

    fn files(&self, who: &str) -> TlsFiles {
        TlsFiles {
            private_key: self.path(&format!("{who}-key.pem")),
            certificate: self.path(&format!("{who}-cert.pem")),
            ca_cert: self.path("ca.pem"),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ofctl_ssl(pki: &Pki, who: &str, port: u16) -> (bool, String, String) {
    let key = format!(
        "--private-key={}",
        pki.path(&format!("{who}-key.pem")).display()
    );
    let cert = format!(
        "--certificate={}",
        pki.path(&format!("{who}-cert.pem")).display()
    );
    let ca = format!("--ca-cert={}", pki.path("ca.pem").display());
    let target = format!("ssl:127.0.0.1:{port}");
    ofctl(&["-O", "OpenFlow13", &key, &cert, &ca, "show", &target])
}

#[test]
fn ovs_ofctl_show_over_pssl() {
    let pki = Pki::new("pssl");
    let sw = Switch::start(ConnmgrConfig {
        listeners: vec!["pssl:0".parse().unwrap(), "ptcp:0".parse().unwrap()],
        tls: Some(pki.files("switch")),
        ..ConnmgrConfig::default()
    });
    let ssl_port = sw.listen[0].1.unwrap().port();
    let (ok, out, err) = ofctl_ssl(&pki, "controller", ssl_port);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("OFPT_FEATURES_REPLY (OF1.3) (xid=0x2): dpid:0000000000000abc\n"),
        "{out}"
    );
    assert!(
        out.ends_with("OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x5): frags=normal miss_send_len=0\n"),
        "{out}"
    );

    // A client whose certificate our CA did not sign is refused; others are unaffected.
    let (ok, _, _) = ofctl_ssl(&pki, "intruder", ssl_port);
    assert!(!ok);
    let tcp = format!("tcp:127.0.0.1:{}", sw.listen[1].1.unwrap().port());
    let (ok, _, err) = ofctl(&["-O", "OpenFlow13", "show", &tcp]);
    assert!(ok, "{err}");
    let (ok, _, err) = ofctl_ssl(&pki, "controller", ssl_port);
    assert!(ok, "{err}");
}

fn rustls_server(pki: &Pki, who: &str) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(pki.path(&format!("{who}-cert.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{who}-key.pem"))).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// Runs the switch's side until the controller's blocking TLS stream has what it needs.
fn drive(h: &mut Local, done: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !done() && Instant::now() < end {
        h.cm.poll(h.now, &mut switch_handler);
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn ssl_controller_connection() {
    let pki = Pki::new("ssl");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = rustls_server(&pki, "controller");
    // The controller runs on its own thread with blocking TLS; the switch is polled here.
    let ctl = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(server).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut hello = [0u8; 16];
        tls.read_exact(&mut hello).unwrap();
        tls.write_all(&HELLO13).unwrap();
        tls.write_all(&[0x04, 0x02, 0x00, 0x0b, 0, 0, 0, 0x42, 1, 2, 3])
            .unwrap();
        let mut reply = [0u8; 11];
        tls.read_exact(&mut reply).unwrap();
        (hello, reply)
    });
    let mut h = Local::new(ConnmgrConfig {
        controllers: vec![format!("ssl:127.0.0.1:{port}").parse().unwrap()],
        tls: Some(pki.files("switch")),
        ..ConnmgrConfig::default()
    });
    drive(&mut h, || ctl.is_finished());
    let (hello, reply) = ctl.join().unwrap();
    assert_eq!(
        hello,
        [0x06, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0x72]
    );
    assert_eq!(reply, [0x04, 0x03, 0x00, 0x0b, 0, 0, 0, 0x42, 1, 2, 3]);
    assert!(h.cm.controllers()[0].connected.is_some());
}

#[test]
fn ssl_controller_with_foreign_certificate_is_refused() {
    let pki = Pki::new("foreign");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = rustls_server(&pki, "intruder");
    let ctl = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(server).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut hello = [0u8; 16];
        tls.read_exact(&mut hello).is_ok()
    });
    let mut h = Local::new(ConnmgrConfig {
        controllers: vec![format!("ssl:127.0.0.1:{port}").parse().unwrap()],
        tls: Some(pki.files("switch")),
        ..ConnmgrConfig::default()
    });
    drive(&mut h, || ctl.is_finished());
    assert!(
        !ctl.join().unwrap(),
        "no OpenFlow over an untrusted TLS session"
    );
    h.pump();
    assert!(h.cm.controllers()[0].connected.is_none());
    assert_eq!(
        h.cm.controllers()[0].last_close,
        Some(ferrovs::connmgr::CloseReason::Tls)
    );
}

#[test]
fn ssl_target_without_tls_files_is_a_config_error() {
    let err = ferrovs::connmgr::Connmgr::new(ConnmgrConfig {
        listeners: vec!["pssl:0".parse().unwrap()],
        ..ConnmgrConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pssl:0:127.0.0.1 needs TLS files (private key, certificate, CA certificate)"
    );
    let missing = ferrovs::connmgr::Connmgr::new(ConnmgrConfig {
        listeners: vec!["pssl:0".parse().unwrap()],
        tls: Some(TlsFiles {
            private_key: Path::new("/nonexistent/key.pem").into(),
            certificate: Path::new("/nonexistent/cert.pem").into(),
            ca_cert: Path::new("/nonexistent/ca.pem").into(),
        }),
        ..ConnmgrConfig::default()
    })
    .unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("TLS setup failed with /nonexistent/cert.pem"),
        "{missing}"
    );
}

/// Shutdown on a TLS controller connection: what was queued arrives, then a close_notify
/// (a clean end, not a truncation), then the end of the TCP stream.
#[test]
fn shutdown_ends_a_tls_connection_with_close_notify() {
    let pki = Pki::new("shutdown");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = rustls_server(&pki, "controller");
    let ctl = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(server).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut hello = [0u8; 16];
        tls.read_exact(&mut hello).unwrap();
        tls.write_all(&HELLO13).unwrap();
        for xid in 0..20u8 {
            tls.write_all(&[0x04, 0x02, 0x00, 0x08, 0, 0, 0, xid])
                .unwrap();
        }
        let mut rest = Vec::new();
        let end = tls.read_to_end(&mut rest).map_err(|e| e.kind());
        (end, rest)
    });
    let mut h = Local::new(ConnmgrConfig {
        controllers: vec![format!("ssl:127.0.0.1:{port}").parse().unwrap()],
        tls: Some(pki.files("switch")),
        ..ConnmgrConfig::default()
    });
    let end = Instant::now() + Duration::from_secs(5);
    while echoes_received(&h) < 20 && Instant::now() < end {
        h.cm.poll(h.now, &mut switch_handler);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(echoes_received(&h), 20);
    assert_eq!(h.cm.shutdown(Instant::now() + Duration::from_secs(2)), 0);
    let (end, rest) = ctl.join().unwrap();
    assert_eq!(end, Ok(rest.len()), "no clean close_notify");
    let replies = split_messages(&rest);
    assert_eq!(replies.len(), 20, "{}", hex(&rest));
    for (xid, r) in replies.iter().enumerate() {
        assert_eq!(r, &[0x04, 0x03, 0x00, 0x08, 0, 0, 0, xid as u8]);
    }
}

/// Echo requests the controller connection has received so far.
fn echoes_received(h: &Local) -> u64 {
    h.cm.connections()
        .map(|(_, st)| st.msgs_in.get(&2).copied().unwrap_or(0))
        .sum()
}
