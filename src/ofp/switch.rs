//! Switch-level messages: features, get/set config, port descriptions, port-status,
//! port-mod and table-mod.
//!
//! Port descriptions differ by version: OpenFlow 1.0's `ofp_phy_port` is 48 bytes with a
//! 16-bit port number; 1.1–1.3's `ofp_port` is 64 bytes with a 32-bit number and speeds;
//! 1.4+ puts the Ethernet details in a property. [`PortDesc`] holds the union, with port
//! numbers in the 32-bit space.

use super::error::OfpError;
use super::port;
use super::wire::{patch_u16, put_str, read_str, Put, Reader};
use super::Version;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortDesc {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub name: String,
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl PortDesc {
    pub fn wire_len(version: Version) -> usize {
        match version {
            Version::V1_0 => 48,
            Version::V1_3 => 64,
            // ofp_port (40) plus one Ethernet property (32).
            _ => 72,
        }
    }

    pub fn parse(version: Version, r: &mut Reader<'_>) -> Result<PortDesc, OfpError> {
        let mut p = PortDesc::default();
        match version {
            Version::V1_0 => {
                p.port_no = port::from_of10(r.u16()?);
                p.hw_addr = r.array()?;
                p.name = read_str(r.bytes(16)?);
                p.config = r.u32()?;
                p.state = r.u32()?;
                p.curr = r.u32()?;
                p.advertised = r.u32()?;
                p.supported = r.u32()?;
                p.peer = r.u32()?;
            }
            Version::V1_3 => {
                p.port_no = r.u32()?;
                r.skip(4)?;
                p.hw_addr = r.array()?;
                r.skip(2)?;
                p.name = read_str(r.bytes(16)?);
                p.config = r.u32()?;
                p.state = r.u32()?;
                p.curr = r.u32()?;
                p.advertised = r.u32()?;
                p.supported = r.u32()?;
                p.peer = r.u32()?;
                p.curr_speed = r.u32()?;
                p.max_speed = r.u32()?;
            }
            _ => {
                p.port_no = r.u32()?;
                let len = usize::from(r.u16()?);
                if len != 72 {
                    return Err(r.error());
                }
                r.skip(2)?;
                p.hw_addr = r.array()?;
                r.skip(2)?;
                p.name = read_str(r.bytes(16)?);
                p.config = r.u32()?;
                p.state = r.u32()?;
                // OFPPDPT_ETHERNET property.
                let (ptype, plen) = (r.u16()?, r.u16()?);
                if ptype != 0 || plen != 32 {
                    return Err(OfpError::OFPBPC_BAD_TYPE);
                }
                r.skip(4)?;
                p.curr = r.u32()?;
                p.advertised = r.u32()?;
                p.supported = r.u32()?;
                p.peer = r.u32()?;
                p.curr_speed = r.u32()?;
                p.max_speed = r.u32()?;
            }
        }
        Ok(p)
    }

    pub fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        match version {
            Version::V1_0 => {
                out.put_u16(port::to_of10(self.port_no).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                out.extend_from_slice(&self.hw_addr);
                put_str(out, &self.name, 16);
                for v in [
                    self.config,
                    self.state,
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                ] {
                    out.put_u32(v);
                }
            }
            Version::V1_3 => {
                out.put_u32(self.port_no);
                out.put_zeros(4);
                out.extend_from_slice(&self.hw_addr);
                out.put_zeros(2);
                put_str(out, &self.name, 16);
                for v in [
                    self.config,
                    self.state,
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                    self.curr_speed,
                    self.max_speed,
                ] {
                    out.put_u32(v);
                }
            }
            _ => {
                out.put_u32(self.port_no);
                out.put_u16(72);
                out.put_zeros(2);
                out.extend_from_slice(&self.hw_addr);
                out.put_zeros(2);
                put_str(out, &self.name, 16);
                out.put_u32(self.config);
                out.put_u32(self.state);
                out.put_u16(0);
                out.put_u16(32);
                out.put_zeros(4);
                for v in [
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                    self.curr_speed,
                    self.max_speed,
                ] {
                    out.put_u32(v);
                }
            }
        }
        Ok(())
    }
}

/// FEATURES_REPLY. `ports` is used only in OpenFlow 1.0 (later versions use port-desc).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    /// 1.3+: the auxiliary connection id.
    pub auxiliary_id: u8,
    pub capabilities: u32,
    /// 1.0: supported actions bitmap; 1.3+: reserved.
    pub actions: u32,
    pub ports: Vec<PortDesc>,
}

impl FeaturesReply {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<FeaturesReply, OfpError> {
        let mut f = FeaturesReply {
            datapath_id: r.u64()?,
            n_buffers: r.u32()?,
            n_tables: r.u8()?,
            ..FeaturesReply::default()
        };
        if version == Version::V1_0 {
            r.skip(3)?;
        } else {
            f.auxiliary_id = r.u8()?;
            r.skip(2)?;
        }
        f.capabilities = r.u32()?;
        f.actions = r.u32()?;
        if version == Version::V1_0 {
            if r.remaining() % 48 != 0 {
                return Err(OfpError::OFPBRC_BAD_LEN);
            }
            while !r.is_empty() {
                f.ports.push(PortDesc::parse(version, r)?);
            }
        } else if !r.is_empty() {
            return Err(OfpError::OFPBRC_BAD_LEN);
        }
        Ok(f)
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        out.put_u64(self.datapath_id);
        out.put_u32(self.n_buffers);
        out.put_u8(self.n_tables);
        if version == Version::V1_0 {
            out.put_zeros(3);
        } else {
            out.put_u8(self.auxiliary_id);
            out.put_zeros(2);
        }
        out.put_u32(self.capabilities);
        out.put_u32(self.actions);
        if version == Version::V1_0 {
            for p in &self.ports {
                p.emit(version, out)?;
            }
        }
        Ok(())
    }
}

/// GET_CONFIG_REPLY / SET_CONFIG body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<SwitchConfig, OfpError> {
        Ok(SwitchConfig {
            flags: r.u16()?,
            miss_send_len: r.u16()?,
        })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.put_u16(self.flags);
        out.put_u16(self.miss_send_len);
    }
}

/// PORT_STATUS: reason 0 = add, 1 = delete, 2 = modify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    pub reason: u8,
    pub desc: PortDesc,
}

impl PortStatus {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<PortStatus, OfpError> {
        let reason = r.u8()?;
        r.skip(7)?;
        let desc = PortDesc::parse(version, r)?;
        if reason > 2 {
            return Err(OfpError::NXBRC_BAD_REASON);
        }
        Ok(PortStatus { reason, desc })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        out.put_u8(self.reason);
        out.put_zeros(7);
        self.desc.emit(version, out)
    }
}

/// PORT_MOD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

impl PortMod {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<PortMod, OfpError> {
        let mut p = PortMod::default();
        if version == Version::V1_0 {
            p.port_no = port::from_of10(r.u16()?);
            p.hw_addr = r.array()?;
        } else {
            p.port_no = r.u32()?;
            r.skip(4)?;
            p.hw_addr = r.array()?;
            r.skip(2)?;
        }
        p.config = r.u32()?;
        p.mask = r.u32()?;
        if version >= Version::V1_4 {
            // One OFPPMPT_ETHERNET property carries the advertise bits.
            while !r.is_empty() {
                let (ptype, plen) = (r.u16()?, usize::from(r.u16()?));
                if plen < 4 {
                    return Err(OfpError::OFPBPC_BAD_LEN);
                }
                let mut body = r.sub(plen - 4, OfpError::OFPBPC_BAD_LEN)?;
                if ptype != 0 || plen != 8 {
                    return Err(OfpError::OFPBPC_BAD_TYPE);
                }
                p.advertise = body.u32()?;
            }
        } else {
            p.advertise = r.u32()?;
            r.skip(4)?;
        }
        Ok(p)
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        if version == Version::V1_0 {
            out.put_u16(port::to_of10(self.port_no).ok_or(OfpError::OFPPMFC_BAD_PORT)?);
            out.extend_from_slice(&self.hw_addr);
        } else {
            out.put_u32(self.port_no);
            out.put_zeros(4);
            out.extend_from_slice(&self.hw_addr);
            out.put_zeros(2);
        }
        out.put_u32(self.config);
        out.put_u32(self.mask);
        if version >= Version::V1_4 {
            // Like Open vSwitch, send the Ethernet property only when there is something
            // to advertise.
            if self.advertise != 0 {
                out.put_u16(0);
                out.put_u16(8);
                out.put_u32(self.advertise);
            }
        } else {
            out.put_u32(self.advertise);
            out.put_zeros(4);
        }
        Ok(())
    }
}

/// TABLE_MOD (1.1+). 1.4+ properties are kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableMod {
    pub table_id: u8,
    pub config: u32,
    pub properties: Vec<u8>,
}

impl TableMod {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<TableMod, OfpError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        let config = r.u32()?;
        let properties = r.take_rest().to_vec();
        if version < Version::V1_4 && !properties.is_empty() {
            return Err(OfpError::OFPBRC_BAD_LEN);
        }
        Ok(TableMod {
            table_id,
            config,
            properties,
        })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.config);
        out.extend_from_slice(&self.properties);
    }
}

/// Writes a length-prefixed element: `f` writes the body after a placeholder length at
/// `start + at`, then the length of the whole element is patched in.
pub(crate) fn with_len(
    out: &mut Vec<u8>,
    at: usize,
    f: impl FnOnce(&mut Vec<u8>) -> Result<(), OfpError>,
) -> Result<(), OfpError> {
    let start = out.len();
    f(out)?;
    let len = out.len() - start;
    patch_u16(out, start + at, len);
    Ok(())
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

    /// `ovs-ofctl mod-port SWITCH 1 down` against a port with MAC 00:00:00:00:00:01.
    #[test]
    fn port_mod_10_and_13() {
        for (hex, v) in [
            (
                "010f002000000004000100000000000100000001000000010000000000000000",
                Version::V1_0,
            ),
            (
                "04100028000000040000000100000000000000000001000000000001000000010000000000000000",
                Version::V1_3,
            ),
        ] {
            let bytes = unhex(hex);
            let (_, m) = decode(&bytes).unwrap();
            let Message::PortMod(pm) = &m else {
                panic!("not a port-mod")
            };
            assert_eq!(pm.port_no, 1);
            assert_eq!(pm.hw_addr, [0, 0, 0, 0, 0, 1]);
            // OFPPC_PORT_DOWN in both config and mask.
            assert_eq!((pm.config, pm.mask, pm.advertise), (1, 1, 0));
            let mut out = Vec::new();
            m.encode(v, 4, &mut out).unwrap();
            assert_eq!(out, bytes);
        }
    }
}
