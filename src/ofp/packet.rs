//! PACKET_IN and PACKET_OUT.
//!
//! Layouts: 1.0 packet-in is buffer_id, total_len, in_port (16-bit), reason, pad, data;
//! 1.3+ is buffer_id, total_len, reason, table_id, cookie, OXM match (which carries in_port),
//! 2 pad bytes, data. 1.0 packet-out is buffer_id, in_port (16), actions_len, actions, data;
//! 1.1–1.4 widen in_port to 32 bits and pad; 1.5 replaces in_port with a match.

use super::action::Action;
use super::error::OfpError;
use super::oxm::OxmMatch;
use super::port;
use super::wire::{patch_u16, Put, Reader};
use super::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    /// 1.0 only; in 1.3+ the in_port is an entry of `match_`.
    pub in_port: u32,
    pub reason: u8,
    /// 1.3+ only.
    pub table_id: u8,
    /// 1.3+ only.
    pub cookie: u64,
    /// 1.3+ only: the packet's metadata as OXM entries.
    pub match_: OxmMatch,
    pub data: Vec<u8>,
}

impl PacketIn {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<PacketIn, OfpError> {
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        if version == Version::V1_0 {
            let in_port = port::from_of10(r.u16()?);
            let reason = r.u8()?;
            r.skip(1)?;
            return Ok(PacketIn {
                buffer_id,
                total_len,
                in_port,
                reason,
                table_id: 0,
                cookie: 0,
                match_: OxmMatch::default(),
                data: r.take_rest().to_vec(),
            });
        }
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let cookie = r.u64()?;
        let match_ = OxmMatch::parse_ofp12(r)?;
        r.skip(2)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            in_port: 0,
            reason,
            table_id,
            cookie,
            match_,
            data: r.take_rest().to_vec(),
        })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        if version == Version::V1_0 {
            out.put_u16(port::to_of10(self.in_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
            out.put_u8(self.reason);
            out.put_u8(0);
        } else {
            out.put_u8(self.reason);
            out.put_u8(self.table_id);
            out.put_u64(self.cookie);
            self.match_.emit_ofp12(out);
            out.put_zeros(2);
        }
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    pub buffer_id: u32,
    /// Up to 1.4: the input port. In 1.5 it is the `in_port` entry of `match_`.
    pub in_port: u32,
    /// 1.5 only.
    pub match_: OxmMatch,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<PacketOut, OfpError> {
        let buffer_id = r.u32()?;
        let (in_port, actions_len, match_) = match version {
            Version::V1_0 => {
                let p = port::from_of10(r.u16()?);
                (p, r.u16()?, OxmMatch::default())
            }
            Version::V1_5 => {
                let alen = r.u16()?;
                r.skip(2)?;
                (0, alen, OxmMatch::parse_ofp12(r)?)
            }
            _ => {
                let p = r.u32()?;
                let alen = r.u16()?;
                r.skip(6)?;
                (p, alen, OxmMatch::default())
            }
        };
        if version != Version::V1_0 && version != Version::V1_5 && !port::is_valid_of11(in_port) {
            return Err(OfpError::OFPBRC_BAD_PORT);
        }
        let actions_bytes = r
            .bytes(usize::from(actions_len))
            .map_err(|_| OfpError::OFPBRC_BAD_LEN)?;
        if actions_bytes.len() % 8 != 0 {
            return Err(OfpError::OFPBRC_BAD_LEN);
        }
        let actions = Action::parse_list(version, actions_bytes)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            match_,
            actions,
            data: r.take_rest().to_vec(),
        })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        out.put_u32(self.buffer_id);
        let len_at;
        match version {
            Version::V1_0 => {
                out.put_u16(port::to_of10(self.in_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                len_at = out.len();
                out.put_u16(0);
            }
            Version::V1_5 => {
                len_at = out.len();
                out.put_u16(0);
                out.put_zeros(2);
                self.match_.emit_ofp12(out);
            }
            _ => {
                out.put_u32(self.in_port);
                len_at = out.len();
                out.put_u16(0);
                out.put_zeros(6);
            }
        }
        let start = out.len();
        Action::emit_list(&self.actions, version, out)?;
        let alen = out.len() - start;
        patch_u16(out, len_at, alen);
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::{decode, Message};

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    const FRAME: &str = "0001020304050001020304060800450000140000000040000000c0a80001c0a80002";

    /// `ovs-ofctl packet-out SWITCH 1 output:2 FRAME` in OpenFlow 1.0 and 1.3.
    #[test]
    fn packet_out_10_and_13() {
        for (hex, v) in [
            (
                format!("010d003a00000006ffffffff000100080000000800020000{FRAME}"),
                Version::V1_0,
            ),
            (
                format!(
                    "040d004a00000006ffffffff0000000100100000000000000000\
                     0010000000020000000000000000{FRAME}"
                ),
                Version::V1_3,
            ),
        ] {
            let bytes = unhex(&hex);
            let (_, m) = decode(&bytes).unwrap();
            let Message::PacketOut(po) = &m else {
                panic!("not a packet-out")
            };
            assert_eq!(po.in_port, 1);
            assert_eq!(po.buffer_id, 0xffff_ffff);
            assert_eq!(
                po.actions,
                [Action::Output {
                    port: 2,
                    max_len: 0
                }]
            );
            assert_eq!(po.data, unhex(FRAME));
            let mut out = Vec::new();
            m.encode(v, 6, &mut out).unwrap();
            assert_eq!(out, bytes);
        }
    }
}
