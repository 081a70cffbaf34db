//! NORMAL: the L2 learning switch behind `output:NORMAL`, and its MAC learning table.
//!
//! Vocabulary: the *FDB* ([`Fdb`]) maps (VLAN, MAC) to the OpenFlow port the MAC was last
//! seen on. A port is an *access* port of one VLAN (untagged on the wire) or a *trunk*
//! carrying tagged VLANs (all of them, or a list; VLAN 0 is untagged traffic).
//!
//! Behaviour (Open vSwitch's, see seeds/001 §2.7): the input VLAN is the access port's VLAN
//! or the packet's VID on a trunk; a tagged packet on an access port, or a VID a trunk does
//! not carry, is dropped, as are reserved multicast destinations (01:80:c2:00:00:0x)
//! unless `forward_bpdu`. The source is learned (reported, see [`FdbLearn`]); a known
//! destination goes to its port unless that is the input port (no hairpin); an unknown or
//! multicast destination floods to every other port carrying the VLAN that is not
//! NO_FLOOD. Output to an access port is untagged, to a trunk tagged (VLAN 0 untagged).
//!
//! Megaflow: NORMAL depends on the source and destination MACs, the VLAN tag and the input
//! port, so those are always un-wildcarded. A change in the FDB changes the answer, so the
//! caller revalidates after a learn that [`Fdb::learn`] reports as a change and after
//! [`Fdb::age`] removed entries.
//!
//! Who calls it: translation (read-only FDB); the upcall handler applies the learning and
//! ages the table; `fdb/show` and `fdb/flush` read and clear it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::convert::ETH_TYPE_VLAN;
use super::pipeline::Xlate;
use super::{OFPPC_NO_FLOOD, OFPPC_NO_FWD};
use crate::ofp::oxm::Field;
use crate::ofproto::Millis;

/// Default idle time of an FDB entry (Open vSwitch's 300 s).
pub const DEFAULT_FDB_IDLE_MS: Millis = 300_000;
/// Default size limit (Open vSwitch's 2048 entries).
pub const DEFAULT_FDB_MAX: usize = 2048;

/// A port's VLAN mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlanMode {
    /// Untagged on the wire, member of this VLAN.
    Access(u16),
    /// Tagged VLANs; `None` carries every VLAN (the default), VLAN 0 is untagged.
    Trunk(Option<Vec<u16>>),
}

impl VlanMode {
    fn carries(&self, vlan: u16) -> bool {
        match self {
            VlanMode::Access(v) => *v == vlan,
            VlanMode::Trunk(None) => true,
            VlanMode::Trunk(Some(list)) => vlan == 0 || list.contains(&vlan),
        }
    }
}

/// NORMAL's bridge settings.
#[derive(Debug, Clone, Default)]
pub struct NormalConfig {
    /// Per OpenFlow port; ports not listed are trunks of every VLAN.
    pub vlans: BTreeMap<u32, VlanMode>,
    /// Forward reserved multicast (BPDUs) instead of dropping it.
    pub forward_bpdu: bool,
}

impl NormalConfig {
    fn mode(&self, port: u32) -> VlanMode {
        self.vlans
            .get(&port)
            .cloned()
            .unwrap_or(VlanMode::Trunk(None))
    }
}

/// A MAC seen by NORMAL, for the caller to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdbLearn {
    pub mac: [u8; 6],
    pub vlan: u16,
    pub port: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    port: u32,
    used: Millis,
}

/// The MAC learning table of one bridge.
#[derive(Debug, Clone)]
pub struct Fdb {
    entries: HashMap<(u16, [u8; 6]), Entry>,
    pub idle_ms: Millis,
    pub max_entries: usize,
}

impl Default for Fdb {
    fn default() -> Self {
        Fdb::new(DEFAULT_FDB_IDLE_MS, DEFAULT_FDB_MAX)
    }
}

impl Fdb {
    pub fn new(idle_ms: Millis, max_entries: usize) -> Fdb {
        Fdb {
            entries: HashMap::new(),
            idle_ms,
            max_entries: max_entries.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Learns or refreshes `l`. True when forwarding changes (a new MAC or a move), which
    /// means installed megaflows must be revalidated. When full, the least recently used
    /// entry makes room.
    pub fn learn(&mut self, l: &FdbLearn, now: Millis) -> bool {
        let k = (l.vlan, l.mac);
        let idle = self.idle_ms;
        if let Some(e) = self.entries.get_mut(&k) {
            // An entry past its idle time is already unknown to `lookup`: reviving it
            // changes forwarding as much as a new one does.
            let changed = e.port != l.port || now.saturating_sub(e.used) >= idle;
            e.used = now;
            e.port = l.port;
            if changed {
                crate::coverage::MAC_LEARNING_LEARNED.inc();
            }
            return changed;
        }
        if self.entries.len() >= self.max_entries {
            if let Some(old) = self
                .entries
                .iter()
                .min_by_key(|(k, e)| (e.used, **k))
                .map(|(k, _)| *k)
            {
                self.entries.remove(&old);
            }
        }
        self.entries.insert(
            k,
            Entry {
                port: l.port,
                used: now,
            },
        );
        crate::coverage::MAC_LEARNING_LEARNED.inc();
        true
    }

    /// The port of (`vlan`, `mac`), unless the entry has aged out.
    pub fn lookup(&self, mac: [u8; 6], vlan: u16, now: Millis) -> Option<u32> {
        self.entries
            .get(&(vlan, mac))
            .filter(|e| now.saturating_sub(e.used) < self.idle_ms)
            .map(|e| e.port)
    }

    /// Removes entries idle for `idle_ms` or more; returns how many.
    pub fn age(&mut self, now: Millis) -> usize {
        let before = self.entries.len();
        let idle = self.idle_ms;
        self.entries
            .retain(|_, e| now.saturating_sub(e.used) < idle);
        let expired = before - self.entries.len();
        crate::coverage::MAC_LEARNING_EXPIRED.add(expired as u64);
        expired
    }

    pub fn flush(&mut self) {
        self.entries.clear();
    }

    /// Forgets every MAC on `port` (the port went away or changed VLANs).
    pub fn flush_port(&mut self, port: u32) {
        self.entries.retain(|_, e| e.port != port);
    }

    /// The table as `ovs-appctl fdb/show` prints it, ordered by port, VLAN, MAC.
    pub fn show(&self, now: Millis) -> String {
        let mut rows: Vec<_> = self
            .entries
            .iter()
            .map(|((vlan, mac), e)| (e.port, *vlan, *mac, now.saturating_sub(e.used) / 1000))
            .collect();
        rows.sort();
        let mut s = String::from(" port  VLAN  MAC                Age\n");
        for (port, vlan, mac, age) in rows {
            let _ = writeln!(
                s,
                "{:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {:>3}",
                crate::ofp::port::name(port),
                vlan,
                mac[0],
                mac[1],
                mac[2],
                mac[3],
                mac[4],
                mac[5],
                age
            );
        }
        s
    }
}

fn is_multicast(mac: [u8; 6]) -> bool {
    mac[0] & 1 != 0
}

fn is_reserved(mac: [u8; 6]) -> bool {
    mac[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && mac[5] & 0xf0 == 0
}

/// Translates `output:NORMAL`.
pub(super) fn xlate_normal(x: &mut Xlate<'_, '_>) {
    x.examine_field(Field::EthSrc);
    x.examine_field(Field::EthDst);
    x.pin_vlans();
    let in_port = x.in_port();
    let key = *x.key();
    let (src, dst) = (key.eth_src(), key.eth_dst());
    let cfg = &x.ctx().config.normal;
    // Packets from no real port (packet-out) are accepted on any VLAN and never learned.
    let real_in = x.ctx().pipeline.port(in_port).is_some();
    let tagged = key.vlan_outer_tpid() != 0;
    let vid = if tagged {
        key.vlan_outer_tci() & 0xfff
    } else {
        0
    };
    let vlan = if real_in {
        match cfg.mode(in_port) {
            VlanMode::Access(v) => {
                if vid != 0 {
                    x.note(|| {
                        format!("NORMAL: tagged packet (VID {vid}) on access port {in_port}: drop")
                    });
                    return;
                }
                v
            }
            m @ VlanMode::Trunk(_) => {
                if !m.carries(vid) {
                    x.note(|| {
                        format!("NORMAL: VLAN {vid} not carried by trunk port {in_port}: drop")
                    });
                    return;
                }
                vid
            }
        }
    } else {
        vid
    };
    if is_reserved(dst) && !cfg.forward_bpdu {
        x.note(|| "NORMAL: reserved multicast destination: drop".into());
        return;
    }
    if real_in && !is_multicast(src) {
        x.learned().push(FdbLearn {
            mac: src,
            vlan,
            port: in_port,
        });
    }
    let now = x.ctx().now;
    let known = (!is_multicast(dst))
        .then(|| x.ctx().fdb.lookup(dst, vlan, now))
        .flatten();
    let targets: Vec<(u32, VlanMode)> = match known {
        Some(p) if p == in_port => {
            x.note(|| format!("NORMAL: destination learned on input port {p}: drop"));
            return;
        }
        Some(p) => {
            x.note(|| format!("NORMAL: learned destination on port {p}, VLAN {vlan}"));
            vec![(p, cfg.mode(p))]
        }
        None => {
            x.note(|| format!("NORMAL: flooding VLAN {vlan}"));
            x.ctx()
                .pipeline
                .ports()
                .into_iter()
                .filter(|p| p.desc.port_no != in_port)
                .filter(|p| p.desc.config & (OFPPC_NO_FLOOD | OFPPC_NO_FWD) == 0)
                .map(|p| (p.desc.port_no, cfg.mode(p.desc.port_no)))
                .filter(|(_, m)| m.carries(vlan))
                .collect()
        }
    };
    let saved = *x.key();
    let pcp = if tagged {
        key.vlan_outer_tci() & 0xe000
    } else {
        0
    };
    for (port, mode) in targets {
        let k = x.key_mut();
        // NORMAL switches the packet as it is apart from the outer tag.
        let (tpid, tci) = match mode {
            VlanMode::Trunk(_) if vlan != 0 => (ETH_TYPE_VLAN, pcp | vlan),
            _ => (0, 0),
        };
        if tagged && tpid == 0 {
            k.set_vlan_outer_tpid(0);
            k.set_vlan_outer_tci(0);
        } else if tpid != 0 {
            if !tagged {
                k.set_vlan_outer_tpid(tpid);
            }
            k.set_vlan_outer_tci(tci);
        }
        x.output_port(port, false);
        *x.key_mut() = saved;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> [u8; 6] {
        [0x50, 0x54, 0, 0, 0, n]
    }

    #[test]
    fn learn_lookup_age_and_move() {
        let mut f = Fdb::new(10_000, 16);
        let a = FdbLearn {
            mac: mac(1),
            vlan: 0,
            port: 1,
        };
        assert!(f.learn(&a, 0));
        assert!(!f.learn(&a, 1000), "a refresh is not a change");
        assert_eq!(f.lookup(mac(1), 0, 5000), Some(1));
        assert_eq!(f.lookup(mac(1), 10, 5000), None, "VLAN-aware");
        assert!(
            f.learn(&FdbLearn { port: 2, ..a }, 2000),
            "a move is a change"
        );
        assert_eq!(f.lookup(mac(1), 0, 2000), Some(2));
        assert_eq!(f.lookup(mac(1), 0, 12_000), None, "aged");
        // Seen again after its idle time but before `age` removed it: a change.
        let mut g = f.clone();
        assert!(g.learn(&FdbLearn { port: 2, ..a }, 12_000));
        assert_eq!(g.lookup(mac(1), 0, 12_000), Some(2));
        assert_eq!(f.age(11_999), 0);
        assert_eq!(f.age(12_000), 1);
        assert!(f.is_empty());
    }

    #[test]
    fn size_limit_evicts_the_least_recently_used() {
        let mut f = Fdb::new(100_000, 2);
        for (i, t) in [(1u8, 10), (2, 20)] {
            f.learn(
                &FdbLearn {
                    mac: mac(i),
                    vlan: 0,
                    port: 1,
                },
                t,
            );
        }
        f.learn(
            &FdbLearn {
                mac: mac(1),
                vlan: 0,
                port: 1,
            },
            30,
        );
        f.learn(
            &FdbLearn {
                mac: mac(3),
                vlan: 0,
                port: 2,
            },
            40,
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f.lookup(mac(2), 0, 40), None);
        assert_eq!(f.lookup(mac(1), 0, 40), Some(1));
        assert_eq!(
            f.show(5040),
            " port  VLAN  MAC                Age\n\
             \x20   1     0  50:54:00:00:00:01    5\n\
             \x20   2     0  50:54:00:00:00:03    5\n"
        );
        f.flush_port(1);
        assert_eq!(f.len(), 1);
        f.flush();
        assert!(f.is_empty());
    }
}
