//! Connection targets as Open vSwitch spells them: `tcp:IP[:PORT]` and `ssl:IP[:PORT]` for
//! controllers the switch connects to, `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]` and
//! `punix:PATH` for listeners that tools such as `ovs-ofctl` connect to.
//!
//! Defaults: the OpenFlow port 6653 for every TCP form; listeners bind to 127.0.0.1 unless
//! the target names an address, so a switch is never reachable from the network by accident.
//! IPv6 addresses are written in brackets (`tcp:[::1]:6653`), as in Open vSwitch.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// The IANA port for OpenFlow.
pub const OFP_PORT: u16 = 6653;

/// Why a target string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?}: unknown connection method (expected tcp:, ssl:, ptcp:, pssl: or punix:)")]
    Method(String),
    #[error("{0:?}: bad IP address")]
    Address(String),
    #[error("{0:?}: bad port number")]
    Port(String),
    #[error("{0:?}: punix: needs a path")]
    Path(String),
    #[error("{0:?}: is a listener, not a controller (or the other way round)")]
    WrongKind(String),
}

/// Where the switch connects to a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerTarget {
    Tcp(SocketAddr),
    Ssl(SocketAddr),
}

/// Where the switch listens for service connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenTarget {
    Tcp(SocketAddr),
    Ssl(SocketAddr),
    Unix(PathBuf),
}

fn parse_ip(s: &str, whole: &str) -> Result<IpAddr, TargetError> {
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse()
        .map_err(|_| TargetError::Address(whole.to_string()))
}

fn parse_port(s: &str, whole: &str) -> Result<u16, TargetError> {
    s.parse().map_err(|_| TargetError::Port(whole.to_string()))
}

/// Splits `a:b` where `a` may be a bracketed IPv6 address.
fn split_host(s: &str) -> (&str, Option<&str>) {
    if s.starts_with('[') {
        match s.find(']') {
            Some(end) => {
                let rest = &s[end + 1..];
                (&s[..=end], rest.strip_prefix(':'))
            }
            None => (s, None),
        }
    } else {
        match s.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        }
    }
}

fn active_addr(rest: &str, whole: &str) -> Result<SocketAddr, TargetError> {
    let (host, port) = split_host(rest);
    let ip = parse_ip(host, whole)?;
    let port = match port {
        Some(p) => parse_port(p, whole)?,
        None => OFP_PORT,
    };
    Ok(SocketAddr::new(ip, port))
}

fn passive_addr(rest: &str, whole: &str) -> Result<SocketAddr, TargetError> {
    // ptcp:[PORT][:IP]: the port comes first; an IPv6 address follows in brackets.
    let (port, ip) = match rest.split_once(':') {
        Some((p, ip)) => (p, Some(ip)),
        None => (rest, None),
    };
    let port = if port.is_empty() {
        OFP_PORT
    } else {
        parse_port(port, whole)?
    };
    let ip = match ip {
        Some(ip) => parse_ip(ip, whole)?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    Ok(SocketAddr::new(ip, port))
}

impl FromStr for ControllerTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, TargetError> {
        if let Some(rest) = s.strip_prefix("tcp:") {
            Ok(ControllerTarget::Tcp(active_addr(rest, s)?))
        } else if let Some(rest) = s.strip_prefix("ssl:") {
            Ok(ControllerTarget::Ssl(active_addr(rest, s)?))
        } else if s.starts_with("ptcp:") || s.starts_with("pssl:") || s.starts_with("punix:") {
            Err(TargetError::WrongKind(s.to_string()))
        } else {
            Err(TargetError::Method(s.to_string()))
        }
    }
}

impl FromStr for ListenTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, TargetError> {
        if let Some(rest) = s.strip_prefix("ptcp:") {
            Ok(ListenTarget::Tcp(passive_addr(rest, s)?))
        } else if let Some(rest) = s.strip_prefix("pssl:") {
            Ok(ListenTarget::Ssl(passive_addr(rest, s)?))
        } else if let Some(rest) = s.strip_prefix("punix:") {
            if rest.is_empty() {
                return Err(TargetError::Path(s.to_string()));
            }
            Ok(ListenTarget::Unix(PathBuf::from(rest)))
        } else if s.starts_with("tcp:") || s.starts_with("ssl:") {
            Err(TargetError::WrongKind(s.to_string()))
        } else {
            Err(TargetError::Method(s.to_string()))
        }
    }
}

fn fmt_addr(f: &mut fmt::Formatter<'_>, method: &str, a: &SocketAddr) -> fmt::Result {
    match a.ip() {
        IpAddr::V4(ip) => write!(f, "{method}:{ip}:{}", a.port()),
        IpAddr::V6(ip) => write!(f, "{method}:[{ip}]:{}", a.port()),
    }
}

impl fmt::Display for ControllerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControllerTarget::Tcp(a) => fmt_addr(f, "tcp", a),
            ControllerTarget::Ssl(a) => fmt_addr(f, "ssl", a),
        }
    }
}

impl fmt::Display for ListenTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let passive = |f: &mut fmt::Formatter<'_>, m: &str, a: &SocketAddr| match a.ip() {
            IpAddr::V4(ip) => write!(f, "{m}:{}:{ip}", a.port()),
            IpAddr::V6(ip) => write!(f, "{m}:{}:[{ip}]", a.port()),
        };
        match self {
            ListenTarget::Tcp(a) => passive(f, "ptcp", a),
            ListenTarget::Ssl(a) => passive(f, "pssl", a),
            ListenTarget::Unix(p) => write!(f, "punix:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_targets() {
        let t: ControllerTarget = "tcp:127.0.0.1".parse().unwrap();
        assert_eq!(t, ControllerTarget::Tcp("127.0.0.1:6653".parse().unwrap()));
        let t: ControllerTarget = "ssl:10.0.0.2:6633".parse().unwrap();
        assert_eq!(t, ControllerTarget::Ssl("10.0.0.2:6633".parse().unwrap()));
        let t: ControllerTarget = "tcp:[::1]:7000".parse().unwrap();
        assert_eq!(t.to_string(), "tcp:[::1]:7000");
        assert!(matches!(
            "tcp:host".parse::<ControllerTarget>(),
            Err(TargetError::Address(_))
        ));
        assert!(matches!(
            "tcp:1.2.3.4:x".parse::<ControllerTarget>(),
            Err(TargetError::Port(_))
        ));
        assert!(matches!(
            "ptcp:1".parse::<ControllerTarget>(),
            Err(TargetError::WrongKind(_))
        ));
        assert!(matches!(
            "udp:1.2.3.4".parse::<ControllerTarget>(),
            Err(TargetError::Method(_))
        ));
    }

    #[test]
    fn listen_targets_default_to_loopback() {
        let t: ListenTarget = "ptcp:".parse().unwrap();
        assert_eq!(t, ListenTarget::Tcp("127.0.0.1:6653".parse().unwrap()));
        let t: ListenTarget = "ptcp:6634".parse().unwrap();
        assert_eq!(t, ListenTarget::Tcp("127.0.0.1:6634".parse().unwrap()));
        let t: ListenTarget = "pssl:6634:0.0.0.0".parse().unwrap();
        assert_eq!(t, ListenTarget::Ssl("0.0.0.0:6634".parse().unwrap()));
        let t: ListenTarget = "ptcp:0:[::1]".parse().unwrap();
        assert_eq!(t.to_string(), "ptcp:0:[::1]");
        let t: ListenTarget = "punix:/run/ferrovs/br0.mgmt".parse().unwrap();
        assert_eq!(t, ListenTarget::Unix("/run/ferrovs/br0.mgmt".into()));
        assert!(matches!(
            "punix:".parse::<ListenTarget>(),
            Err(TargetError::Path(_))
        ));
        assert!(matches!(
            "tcp:1.2.3.4".parse::<ListenTarget>(),
            Err(TargetError::WrongKind(_))
        ));
    }
}
