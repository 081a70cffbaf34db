//! Continuations: the authenticated, opaque state a paused pipeline hands to the
//! controller inside `NXT_PACKET_IN2`, and the `NXT_RESUME` that brings it back.
//!
//! Purpose: translation freezes a paused pipeline ([`crate::xlate::freeze`]) into private
//! properties. Here they are *sealed*: a BRIDGE property (the datapath id and a random
//! per-process instance id) goes first and an HMAC-SHA256 property ([`CPT_MAC`]) last,
//! keyed with a random per-process secret over the datapath id and every property before
//! it. A controller may change the public parts of the packet-in (the packet, the
//! metadata); it must send the continuation back byte for byte, and may keep it only for
//! the life of this process: the secret changes on restart. A continuation is sealed once
//! per OpenFlow version ([`Sealed`]), its action lists encoded in that version where it
//! can carry them, because Open vSwitch's tools decode them in the version of the
//! connection; each list names its version, so any of them resumes over any connection.
//!
//! On `NXT_RESUME` ([`resume`]) the message is checked in this order, and nothing runs
//! unless every check passes: framing (body a multiple of 8, OFPBRC_BAD_LEN; property
//! lengths, OFPBPC_BAD_LEN), public property types (OFPBPC_BAD_TYPE) and a packet
//! (OFPBRC_BAD_LEN), the metadata's OXM (a match error), the continuation's property
//! types and lengths (OFPBPC_BAD_TYPE / OFPBPC_BAD_LEN, as Open vSwitch checks them), then
//! the MAC and the bridge (NXR_STALE: changed, forged, from before a restart or from
//! another switch), and last the frozen actions themselves (OFPBAC_*). Then translation
//! continues where it stopped, on the packet and metadata the controller sent, and the
//! datapath actions run on the packet through PMD 0's queues, as a packet-out's do.
//!
//! Vocabulary: *sealed* bytes are the nested properties of `NXPINT_CONTINUATION` (after
//! its 4 alignment bytes). Stats: the rules a resumed packet goes through are credited
//! once, on resume; the rules before the pause were credited when the packet first came
//! up (as Open vSwitch does).
//!
//! Who calls it: the upcall handler and the packet-out path turn controller upcalls into
//! [`PacketInEvent`]s with [`packet_in_event`]; the switch loop hands `NXT_RESUME` to
//! [`resume`] and reports continuations no connection took with [`note_unsent`]. All on the
//! control lcore. Counters are process-wide atomics, like Open vSwitch's coverage counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::bridge::NetdevBridge;
use crate::ofp::ext::{
    emit_props, parse_props, prop_u8, PacketIn2, Property, NXCPT_BRIDGE, NXPINT_BUFFER_ID,
    NXPINT_CONTINUATION, NXPINT_COOKIE, NXPINT_FULL_LEN, NXPINT_METADATA, NXPINT_PACKET,
    NXPINT_REASON, NXPINT_TABLE_ID, NXPINT_USERDATA,
};
use crate::ofp::oxm::Field;
use crate::ofp::port::{self, OFPP_NONE};
use crate::ofp::wire::Reader;
use crate::ofp::{OfpError, OxmMatch, Version};
use crate::ofproto::{AsyncEvent, Millis, Ofproto, PacketInEvent};
use crate::xlate::freeze::{check_prop, Frozen};
use crate::xlate::{self, ControllerUserdata, Fdb, XlateConfig, XlateCtx, OFPR_NO_MATCH};

/// ferrovs's private property: HMAC-SHA256 over the datapath id and every continuation
/// property before it. Always the last one.
pub const CPT_MAC: u16 = 0x8101;
const MAC_LEN: usize = 32;
/// `OFP_NO_BUFFER`.
const NO_BUFFER: u32 = 0xffff_ffff;
/// Ask connmgr for the whole packet: a truncated packet could not be resumed.
const WHOLE_PACKET: u16 = 0xffff;

/// The per-process secret and instance id. `None` when the system has no randomness, in
/// which case no continuation is sent and every `NXT_RESUME` gets NXR_NOT_SUPPORTED.
struct Secret {
    key: hmac::Key,
    instance: [u8; 8],
}

static SECRET: LazyLock<Option<Secret>> = LazyLock::new(|| {
    let rng = SystemRandom::new();
    let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).ok()?;
    let mut instance = [0u8; 8];
    rng.fill(&mut instance).ok()?;
    Some(Secret { key, instance })
});

static PAUSED: AtomicU64 = AtomicU64::new(0);
static UNSENT: AtomicU64 = AtomicU64::new(0);
static RESUMED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);

/// Process-wide continuation counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContinuationStats {
    /// Continuations sealed for the controller.
    pub paused: u64,
    /// Continuations no connection took (none subscribed, or all refused it): the packet
    /// stopped at the pause.
    pub unsent: u64,
    /// `NXT_RESUME`s that ran.
    pub resumed: u64,
    /// `NXT_RESUME`s answered with an error.
    pub rejected: u64,
}

pub fn stats() -> ContinuationStats {
    ContinuationStats {
        paused: PAUSED.load(Ordering::Relaxed),
        unsent: UNSENT.load(Ordering::Relaxed),
        resumed: RESUMED.load(Ordering::Relaxed),
        rejected: REJECTED.load(Ordering::Relaxed),
    }
}

/// `continuation/show` text.
pub fn show() -> String {
    let s = stats();
    format!(
        "continuations: paused {} unsent {} resumed {} rejected {}\n",
        s.paused, s.unsent, s.resumed, s.rejected
    )
}

/// Counts `event` if it carried a continuation and `sent_to` connections took it.
pub fn note_unsent(event: &AsyncEvent, sent_to: usize) {
    if let AsyncEvent::PacketIn(p) = event {
        if p.continuation.is_some() && sent_to == 0 {
            UNSENT.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The 16-byte BRIDGE value: the datapath id, then this process's instance id.
fn bridge_value(secret: &Secret, datapath_id: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&datapath_id.to_be_bytes());
    b[8..].copy_from_slice(&secret.instance);
    b
}

/// What the MAC covers: the datapath id, then the continuation's bytes before the MAC
/// property, exactly as sent (padding included).
fn mac_input(datapath_id: u64, signed: &[u8]) -> Vec<u8> {
    let mut m = datapath_id.to_be_bytes().to_vec();
    m.extend_from_slice(signed);
    m
}

/// The MAC property's size on the wire: header and 32 bytes, padded to 8.
const MAC_PROP_LEN: usize = (4 + MAC_LEN).div_ceil(8) * 8;

/// A sealed continuation for each OpenFlow version: the frozen action lists are encoded in
/// the version of the connection that carries them (where it can express them), so Open
/// vSwitch's tools decode them there. Any of them resumes over any connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    by_version: Vec<(Version, Vec<u8>)>,
}

impl Sealed {
    /// The same sealed bytes for every version (tests, tools).
    pub fn same_for_all(bytes: Vec<u8>) -> Sealed {
        Sealed {
            by_version: Version::ALL.iter().map(|&v| (v, bytes.clone())).collect(),
        }
    }

    /// The nested properties of `NXPINT_CONTINUATION` for a connection of `version`.
    pub fn for_version(&self, version: Version) -> Option<&[u8]> {
        self.by_version
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, b)| b.as_slice())
    }
}

/// Seals a frozen state (the bytes of [`Frozen::encode`]) once per OpenFlow version.
/// `None` if the bytes do not decode (translation made them, so they do) or there is no
/// secret.
pub fn seal_all(datapath_id: u64, frozen: &[u8]) -> Option<Sealed> {
    let frozen = Frozen::decode(frozen).ok()?;
    let mut by_version = Vec::with_capacity(Version::ALL.len());
    for v in Version::ALL {
        let bytes = frozen.encode_in(v).ok()?;
        by_version.push((v, seal(datapath_id, &bytes)?));
    }
    Some(Sealed { by_version })
}

/// Seals frozen private properties ([`Frozen::encode`]'s bytes) for datapath
/// `datapath_id`: BRIDGE, the frozen properties, then the MAC. `None` if the bytes do not
/// parse (translation made them, so they do) or there is no secret.
pub fn seal(datapath_id: u64, frozen: &[u8]) -> Option<Vec<u8>> {
    let secret = SECRET.as_ref()?;
    let mut props = vec![Property {
        ptype: NXCPT_BRIDGE,
        value: bridge_value(secret, datapath_id).to_vec(),
    }];
    props.extend(parse_props(&mut Reader::new(frozen, OfpError::OFPBPC_BAD_LEN)).ok()?);
    let mut out = Vec::new();
    emit_props(&props, &mut out);
    let tag = hmac::sign(&secret.key, &mac_input(datapath_id, &out));
    emit_props(
        &[Property {
            ptype: CPT_MAC,
            value: tag.as_ref().to_vec(),
        }],
        &mut out,
    );
    Some(out)
}

/// What a checked `NXT_RESUME` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    pub packet: Vec<u8>,
    /// The pipeline fields the controller sent (in_port, metadata, registers, tunnel id).
    pub metadata: OxmMatch,
    pub frozen: Frozen,
}

/// Checks an `NXT_RESUME` addressed to datapath `datapath_id` and decodes its
/// continuation. `body_len` is the message length after the 16-byte Nicira header.
pub fn open(datapath_id: u64, msg: &PacketIn2, body_len: usize) -> Result<Resumed, OfpError> {
    if body_len % 8 != 0 {
        return Err(OfpError::OFPBRC_BAD_LEN);
    }
    let (mut packet, mut metadata, mut continuation) = (None, OxmMatch::default(), None);
    for p in &msg.props {
        let n = p.value.len();
        let len_ok = match p.ptype {
            NXPINT_PACKET => {
                packet = Some(p.value.clone());
                true
            }
            NXPINT_FULL_LEN => n == 4,
            NXPINT_BUFFER_ID => {
                if n == 4 && p.value[..] != NO_BUFFER.to_be_bytes() {
                    // Nothing is ever buffered here.
                    return Err(OfpError::OFPBRC_BUFFER_UNKNOWN);
                }
                n == 4
            }
            NXPINT_TABLE_ID | NXPINT_REASON => n >= 1,
            NXPINT_COOKIE => n == 12,
            NXPINT_USERDATA => true,
            NXPINT_METADATA => {
                let mut r = Reader::new(&p.value, OfpError::OFPBMC_BAD_LEN);
                metadata = OxmMatch::parse_entries(&mut r)?;
                true
            }
            NXPINT_CONTINUATION => {
                continuation = Some(&p.value);
                true
            }
            _ => return Err(OfpError::OFPBPC_BAD_TYPE),
        };
        if !len_ok {
            return Err(OfpError::OFPBPC_BAD_LEN);
        }
    }
    let packet = packet.ok_or(OfpError::OFPBRC_BAD_LEN)?;
    // Without a continuation there is nothing to resume: as from an unknown bridge.
    let sealed = continuation.ok_or(OfpError::NXR_STALE)?;
    let inner = sealed.get(4..).ok_or(OfpError::OFPBPC_BAD_LEN)?;
    let props = parse_props(&mut Reader::new(inner, OfpError::OFPBPC_BAD_LEN))?;
    for p in &props {
        match p.ptype {
            NXCPT_BRIDGE if p.value.len() != 16 => return Err(OfpError::OFPBPC_BAD_LEN),
            CPT_MAC if p.value.len() != MAC_LEN => return Err(OfpError::OFPBPC_BAD_LEN),
            NXCPT_BRIDGE | CPT_MAC => {}
            _ => check_prop(p)?,
        }
    }
    let secret = SECRET.as_ref().ok_or(OfpError::NXR_NOT_SUPPORTED)?;
    let (mac, signed) = match props.split_last() {
        Some((m, rest)) if m.ptype == CPT_MAC => (m, rest),
        _ => return Err(OfpError::NXR_STALE),
    };
    let signed_bytes = inner
        .len()
        .checked_sub(MAC_PROP_LEN)
        .and_then(|n| inner.get(..n))
        .ok_or(OfpError::NXR_STALE)?;
    hmac::verify(
        &secret.key,
        &mac_input(datapath_id, signed_bytes),
        &mac.value,
    )
    .map_err(|_| OfpError::NXR_STALE)?;
    // The MAC's own padding is the only byte range it cannot cover: it must be as sent.
    if inner[signed_bytes.len() + 4 + MAC_LEN..]
        .iter()
        .any(|&b| b != 0)
    {
        return Err(OfpError::NXR_STALE);
    }
    let bridge = bridge_value(secret, datapath_id);
    match signed.first() {
        Some(b) if b.ptype == NXCPT_BRIDGE && b.value[..] == bridge[..] => {}
        _ => return Err(OfpError::NXR_STALE),
    }
    if signed[1..]
        .iter()
        .any(|p| matches!(p.ptype, NXCPT_BRIDGE | CPT_MAC))
    {
        return Err(OfpError::OFPBPC_BAD_VALUE);
    }
    let frozen = Frozen::from_props(&signed[1..])?;
    Ok(Resumed {
        packet,
        metadata,
        frozen,
    })
}

/// The packet-in for a controller upcall of a packet that came in on OpenFlow port
/// `in_port`; a pause's frozen state is sealed for datapath `datapath_id` here.
pub fn packet_in_event(
    ud: ControllerUserdata,
    in_port: u32,
    packet: Vec<u8>,
    datapath_id: u64,
) -> PacketInEvent {
    let continuation = ud
        .continuation
        .as_deref()
        .and_then(|f| seal_all(datapath_id, f));
    if continuation.is_some() {
        PAUSED.fetch_add(1, Ordering::Relaxed);
    }
    let max_len = if continuation.is_some() {
        Some(WHOLE_PACKET)
    } else {
        (ud.reason != OFPR_NO_MATCH).then_some(ud.max_len)
    };
    PacketInEvent {
        reason: ud.reason,
        table_id: ud.table_id,
        cookie: ud.cookie,
        in_port,
        metadata: ud.metadata,
        max_len,
        packet,
        controller_id: ud.controller_id,
        userdata: ud.userdata,
        continuation,
    }
}

/// The in_port an `NXT_RESUME`'s metadata names (OFPP_NONE if none).
fn metadata_in_port(metadata: &OxmMatch) -> u32 {
    metadata
        .entries
        .iter()
        .find_map(|e| match e.field {
            Field::InPort => Some(e.value_u64() as u32),
            Field::NxmInPort => Some(port::from_of10(e.value_u64() as u16)),
            _ => None,
        })
        .unwrap_or(OFPP_NONE)
}

/// Handles `NXT_RESUME`: checks it ([`open`]), continues the translation, credits the
/// rules it went through, queues its packet-ins and runs its datapath actions on the
/// packet. No reply on success.
pub fn resume(
    ofproto: &mut Ofproto<NetdevBridge>,
    fdb: &Fdb,
    config: &XlateConfig,
    msg: &PacketIn2,
    body_len: usize,
    now: Millis,
) -> Result<(), OfpError> {
    let r = match open(ofproto.datapath_id(), msg, body_len) {
        Ok(r) => r,
        Err(e) => {
            REJECTED.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
    };
    RESUMED.fetch_add(1, Ordering::Relaxed);
    let in_port = metadata_in_port(&r.metadata);
    // A port without a datapath number (CONTROLLER, NONE, …) is only a label for PMD 0.
    let dp_in_port = if in_port <= 0xff00 { in_port } else { 0 };
    let mut key = pmd::key::FlowKey::default();
    pmd::parse::parse(&r.packet, dp_in_port, &mut key);
    let out = {
        let ctx = XlateCtx {
            pipeline: &*ofproto,
            fdb,
            config,
            now,
            may_learn: false,
        };
        xlate::resume(&ctx, &key, &r.metadata, &r.frozen, Some(&r.packet))
    };
    let len = r.packet.len() as u64;
    for &rule in &out.rules {
        ofproto.credit_rule(rule, 1, len, now);
    }
    ofproto.credit_groups(&out.groups, 1, len);
    for &(table, matched) in &out.tables {
        ofproto.credit_table(table, 1, u64::from(matched));
    }
    if !out
        .meters
        .iter()
        .all(|&m| ofproto.meter_admit(m, r.packet.len(), now))
    {
        return Ok(());
    }
    let dpid = ofproto.datapath_id();
    for pi in out.packet_ins {
        let packet = pi.packet.unwrap_or_else(|| r.packet.clone());
        ofproto.send_packet_in(packet_in_event(pi.userdata, in_port, packet, dpid));
    }
    // Packet-ins were queued above; the datapath gets the rest.
    let actions: Vec<_> = out
        .actions
        .into_iter()
        .filter(|a| !matches!(a, pmd::actions::DpAction::Userspace { .. }))
        .collect();
    if actions.is_empty() {
        return Ok(());
    }
    let bridge = ofproto.dpif_mut();
    if let Some(m) = bridge.alloc_packet(&r.packet) {
        // A busy PMD loses the packet, as a full upcall ring would.
        let _ = bridge.netdev.execute(0, m, dp_in_port, actions.into());
    }
    Ok(())
}

/// An `NXT_RESUME` body as a controller that changed nothing would send back: the
/// packet-in's public properties, then the continuation (for tests and tools).
pub fn resume_props(packet: &[u8], metadata: &OxmMatch, sealed: &[u8]) -> Vec<Property> {
    let mut md = Vec::new();
    metadata.emit_entries(&mut md);
    let mut cont = vec![0u8; 4];
    cont.extend_from_slice(sealed);
    vec![
        Property {
            ptype: NXPINT_PACKET,
            value: packet.to_vec(),
        },
        prop_u8(NXPINT_REASON, 1),
        Property {
            ptype: NXPINT_METADATA,
            value: md,
        },
        Property {
            ptype: NXPINT_CONTINUATION,
            value: cont,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::ext::{NXCPT_ACTIONS, NXCPT_STACK};
    use crate::ofp::{Action, MatchEntry};
    use crate::xlate::freeze::FrozenSegment;

    const DPID: u64 = 0xabc;

    fn frozen() -> Frozen {
        Frozen {
            segments: vec![FrozenSegment {
                table_id: 1,
                cookie: 5,
                actions: vec![Action::Output {
                    port: 2,
                    max_len: 0,
                }],
                instructions: vec![],
            }],
            action_set: vec![],
        }
    }

    fn md() -> OxmMatch {
        OxmMatch {
            entries: vec![
                MatchEntry::from_u64(Field::InPort, 1),
                MatchEntry::from_u64(Field::Reg0, 0x2a),
            ],
        }
    }

    fn message(props: Vec<Property>) -> (PacketIn2, usize) {
        let mut body = Vec::new();
        emit_props(&props, &mut body);
        (PacketIn2 { props }, body.len())
    }

    fn sealed() -> Vec<u8> {
        seal(DPID, &frozen().encode().expect("encodes")).expect("seals")
    }

    #[test]
    fn sealed_continuation_opens_with_the_controllers_public_changes() {
        let s = sealed();
        // BRIDGE first (datapath id, then the instance id), MAC last.
        assert_eq!(&s[..12], [0x80, 0x00, 0, 20, 0, 0, 0, 0, 0, 0, 0x0a, 0xbc]);
        let props = parse_props(&mut Reader::new(&s, OfpError::OFPBPC_BAD_LEN)).expect("props");
        assert_eq!(
            props.last().map(|p| (p.ptype, p.value.len())),
            Some((CPT_MAC, 32))
        );
        let (msg, n) = message(resume_props(&[1, 2, 3], &md(), &s));
        let r = open(DPID, &msg, n).expect("opens");
        assert_eq!(r.frozen, frozen());
        assert_eq!(r.metadata, md());
        // A changed packet and metadata are the controller's right.
        let mut md2 = md();
        md2.entries[1] = MatchEntry::from_u64(Field::Reg0, 7);
        let (msg, n) = message(resume_props(&[9; 60], &md2, &s));
        let r = open(DPID, &msg, n).expect("opens");
        assert_eq!((r.packet, r.metadata), (vec![9; 60], md2));
    }

    /// §6 1 and 3 of seeds/004: the pause action's bytes, and where it may stand.
    #[test]
    fn pause_action_bytes_and_placement() {
        use crate::ofp::action::Controller2Prop;
        use crate::ofp::flow::{FlowMod, Match, OFPFC_ADD};
        use crate::ofp::{Instruction, Message, Version};
        let pause = Action::Controller2(vec![Controller2Prop::Pause]);
        let mut bytes = Vec::new();
        pause.emit(Version::V1_3, &mut bytes).expect("encodes");
        assert_eq!(
            bytes,
            [
                0xff, 0xff, 0, 24, 0, 0, 0x23, 0x20, 0, 0x25, 0, 0, 0, 0, 0, 0, // header
                0, 4, 0, 4, 0, 0, 0, 0 // PAUSE, padded to 8
            ]
        );
        let back = Action::parse_list(Version::V1_3, &bytes).expect("decodes");
        assert_eq!(
            crate::ofp::syntax::print::format_actions(&back),
            "controller(pause)"
        );
        // Accepted in apply-actions, refused in write-actions.
        let fm = |i: Instruction| {
            let fm = FlowMod {
                cookie: 0,
                cookie_mask: 0,
                table_id: 0,
                command: OFPFC_ADD,
                idle_timeout: 0,
                hard_timeout: 0,
                priority: 1,
                buffer_id: NO_BUFFER,
                out_port: OFPP_NONE,
                out_group: OFPP_NONE,
                flags: 0,
                importance: 0,
                match_: Match::Oxm(OxmMatch::default()),
                instructions: vec![i],
            };
            let mut out = Vec::new();
            Message::FlowMod(fm)
                .encode(Version::V1_3, 1, &mut out)
                .expect("encodes");
            crate::ofp::decode(&out).map(|_| ())
        };
        assert_eq!(fm(Instruction::ApplyActions(vec![pause.clone()])), Ok(()));
        assert_eq!(
            fm(Instruction::WriteActions(vec![pause])),
            Err(OfpError::OFPBAC_UNSUPPORTED_ORDER)
        );
    }

    /// §12 of seeds/004: NXT_RESUME cannot be bundled.
    #[test]
    fn resume_is_not_bundlable() {
        use crate::dpif::memory::MemDpif;
        use crate::ofp::ext::{BundleAdd, BundleControl, NxMessage, OFPBCT_OPEN_REQUEST};
        use crate::ofp::{Message, Version};
        use crate::ofproto::{ConnInfo, OfprotoConfig};
        let mut o = Ofproto::new(MemDpif::new("br0"), OfprotoConfig::default(), 0);
        let conn = ConnInfo::new(1, Version::V1_4);
        let open = Message::BundleControl(BundleControl {
            bundle_id: 1,
            ctype: OFPBCT_OPEN_REQUEST,
            flags: 0,
            properties: vec![],
        });
        assert!(o.handle(&conn, &open, 0).replies.is_ok());
        let resume = Message::Nx(NxMessage::Resume(PacketIn2 {
            props: resume_props(&[1], &md(), &sealed()),
        }));
        let mut inner = Vec::new();
        resume
            .encode(Version::V1_4, 2, &mut inner)
            .expect("encodes");
        let add = Message::BundleAdd(BundleAdd {
            bundle_id: 1,
            flags: 0,
            message: inner,
            properties: vec![],
        });
        assert_eq!(
            o.handle(&conn, &add, 0).replies,
            Err(OfpError::OFPBFC_MSG_UNSUP)
        );
    }

    #[test]
    fn sealed_per_version_and_any_version_resumes() {
        let e = MatchEntry::from_u64(Field::Ipv4Dst, 0x0a00_0063);
        let f = Frozen {
            segments: vec![FrozenSegment {
                actions: vec![Action::SetField(e)],
                ..FrozenSegment::default()
            }],
            action_set: vec![],
        };
        let sealed = seal_all(DPID, &f.encode().expect("encodes")).expect("seals");
        let v10 = sealed.for_version(Version::V1_0).expect("1.0");
        let v13 = sealed.for_version(Version::V1_3).expect("1.3");
        assert_ne!(v10, v13);
        let open_it = |s: &[u8]| {
            let (msg, n) = message(resume_props(&[1], &md(), s));
            open(DPID, &msg, n).expect("opens").frozen
        };
        assert_eq!(open_it(v13), f);
        // OpenFlow 1.0 has no set-field: NXAST_REG_LOAD2, which translates the same.
        assert_eq!(open_it(v10).segments[0].actions, [Action::RegLoad2(e)]);
    }

    #[test]
    fn every_change_to_the_private_part_is_stale() {
        let s = sealed();
        // Any byte changed (BRIDGE, a padding byte, the actions, the MAC): NXR_STALE.
        for at in [6, 10, 16, 30, s.len() - 1] {
            let mut bad = s.clone();
            bad[at] ^= 1;
            let (msg, n) = message(resume_props(&[1], &md(), &bad));
            assert_eq!(open(DPID, &msg, n), Err(OfpError::NXR_STALE), "byte {at}");
        }
        // Another datapath, or a continuation sealed by an earlier process (a different
        // secret and instance id, here: a MAC made with another key).
        let (msg, n) = message(resume_props(&[1], &md(), &s));
        assert_eq!(open(DPID + 1, &msg, n), Err(OfpError::NXR_STALE));
        let other = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        let mut props = parse_props(&mut Reader::new(&s, OfpError::OFPBPC_BAD_LEN)).expect("p");
        props.pop();
        let mut forged = Vec::new();
        emit_props(&props, &mut forged);
        let tag = hmac::sign(&other, &mac_input(DPID, &forged));
        emit_props(
            &[Property {
                ptype: CPT_MAC,
                value: tag.as_ref().to_vec(),
            }],
            &mut forged,
        );
        let (msg, n) = message(resume_props(&[1], &md(), &forged));
        assert_eq!(open(DPID, &msg, n), Err(OfpError::NXR_STALE));
        // A forged list of actions without any MAC.
        let mut unsigned = Vec::new();
        emit_props(&props, &mut unsigned);
        let (msg, n) = message(resume_props(&[1], &md(), &unsigned));
        assert_eq!(open(DPID, &msg, n), Err(OfpError::NXR_STALE));
        // No continuation at all.
        let mut p = resume_props(&[1], &md(), &s);
        p.pop();
        let (msg, n) = message(p);
        assert_eq!(open(DPID, &msg, n), Err(OfpError::NXR_STALE));
    }

    #[test]
    fn malformed_messages_get_open_vswitchs_errors() {
        let s = sealed();
        // No packet.
        let mut p = resume_props(&[1], &md(), &s);
        p.remove(0);
        let (msg, n) = message(p);
        assert_eq!(open(DPID, &msg, n), Err(OfpError::OFPBRC_BAD_LEN));
        // An unknown public property.
        let mut p = resume_props(&[1], &md(), &s);
        p.push(prop_u8(0x42, 0));
        let (msg, n) = message(p);
        assert_eq!(open(DPID, &msg, n), Err(OfpError::OFPBPC_BAD_TYPE));
        // A body that is not a multiple of 8.
        let (msg, n) = message(resume_props(&[1], &md(), &s));
        assert_eq!(open(DPID, &msg, n - 3), Err(OfpError::OFPBRC_BAD_LEN));
        // A buffer id: nothing is buffered.
        let mut p = resume_props(&[1], &md(), &s);
        p.push(Property {
            ptype: NXPINT_BUFFER_ID,
            value: vec![0, 0, 0, 1],
        });
        let (msg, n) = message(p);
        assert_eq!(open(DPID, &msg, n), Err(OfpError::OFPBRC_BUFFER_UNKNOWN));
        // Inside the continuation: an unknown private type, a bad STACK length, a bad
        // BRIDGE length, and a truncated property, before the MAC is even looked at.
        for (inner, err) in [
            (prop_u8(0x8042, 0), OfpError::OFPBPC_BAD_TYPE),
            (
                Property {
                    ptype: NXCPT_STACK,
                    value: vec![0; 17],
                },
                OfpError::OFPBPC_BAD_LEN,
            ),
            (
                Property {
                    ptype: NXCPT_BRIDGE,
                    value: vec![0; 15],
                },
                OfpError::OFPBPC_BAD_LEN,
            ),
            (
                Property {
                    ptype: NXCPT_ACTIONS,
                    value: vec![4, 0],
                },
                OfpError::OFPBPC_BAD_LEN,
            ),
        ] {
            let mut bad = Vec::new();
            emit_props(&[inner], &mut bad);
            bad.extend_from_slice(&s);
            let (msg, n) = message(resume_props(&[1], &md(), &bad));
            assert_eq!(open(DPID, &msg, n), Err(err));
        }
        // §10: malformed OXM in METADATA is a match error.
        let mut p = resume_props(&[1], &md(), &s);
        p[2].value = vec![0x80, 0, 0, 8, 0, 0, 0, 1];
        let (msg, n) = message(p);
        assert!(matches!(open(DPID, &msg, n), Err(e) if e.name().starts_with("OFPBMC_")));
        // §5: a property shorter than its own header, in a whole NXT_RESUME.
        let raw = [
            4, 4, 0, 24, 0, 0, 0, 1, 0, 0, 0x23, 0x20, 0, 0, 0, 28, 0, 0, 0, 3, 0, 0, 0, 0,
        ];
        assert_eq!(
            crate::ofp::decode(&raw).map(|_| ()),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        // A truncated property: the MAC claims 8 bytes more than there are.
        let mut cut = s.clone();
        cut.truncate(s.len() - 8);
        let (msg, n) = message(resume_props(&[1], &md(), &cut));
        assert_eq!(open(DPID, &msg, n), Err(OfpError::OFPBPC_BAD_LEN));
    }
}
