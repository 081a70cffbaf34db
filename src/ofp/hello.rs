//! HELLO and version negotiation.
//!
//! A HELLO carries the sender's highest version in its header and, from OpenFlow 1.3 on,
//! optionally a *version bitmap* element listing every version it speaks (bit n of word k
//! means wire version 32k+n). Negotiation picks the highest version both sides list; without
//! a bitmap, the peer is taken to speak every version up to its header's. No common version
//! means `OFPHFC_INCOMPATIBLE`, sent as an error whose data is a short explanation.

use super::error::OfpError;
use super::wire::{pad8, Put, Reader};
use super::Version;

const OFPHET_VERSIONBITMAP: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloElement {
    /// Bitmap words, least significant first.
    VersionBitmap(Vec<u32>),
    /// An element type we do not know: kept so it re-encodes exactly.
    Unknown { etype: u16, data: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
}

impl Hello {
    /// The HELLO a switch sends for `versions`: from 1.3 on with a bitmap of all of them.
    pub fn for_versions(versions: &[Version]) -> Hello {
        let max = versions.iter().copied().max().unwrap_or(Version::V1_0);
        if max < Version::V1_3 {
            return Hello::default();
        }
        let bits = versions.iter().fold(0u32, |b, v| b | (1 << v.wire()));
        Hello {
            elements: vec![HelloElement::VersionBitmap(vec![bits])],
        }
    }

    /// The bitmap of versions, if the hello has one.
    pub fn bitmap(&self) -> Option<&[u32]> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(b) => Some(b.as_slice()),
            HelloElement::Unknown { .. } => None,
        })
    }

    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Hello, OfpError> {
        let mut elements = Vec::new();
        // Elements that do not parse are ignored, as Open vSwitch ignores them.
        while r.remaining() >= 4 {
            let rest = r.rest();
            let etype = u16::from_be_bytes([rest[0], rest[1]]);
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            if len < 4 || len > r.remaining() {
                break;
            }
            let mut e = r.sub(len, OfpError::OFPBRC_BAD_LEN)?;
            e.skip(4)?;
            let body = e.take_rest();
            if etype == OFPHET_VERSIONBITMAP && body.len() % 4 == 0 {
                let words = body
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                elements.push(HelloElement::VersionBitmap(words));
            } else {
                elements.push(HelloElement::Unknown {
                    etype,
                    data: body.to_vec(),
                });
            }
            let pad = (pad8(len) - len).min(r.remaining());
            r.skip(pad)?;
        }
        Ok(Hello { elements })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        for e in &self.elements {
            let start = out.len();
            match e {
                HelloElement::VersionBitmap(words) => {
                    out.put_u16(OFPHET_VERSIONBITMAP);
                    out.put_u16((4 + 4 * words.len()) as u16);
                    for w in words {
                        out.put_u32(*w);
                    }
                }
                HelloElement::Unknown { etype, data } => {
                    out.put_u16(*etype);
                    out.put_u16((4 + data.len()) as u16);
                    out.extend_from_slice(data);
                }
            }
            out.pad_to_8(start);
        }
    }
}

/// Picks the version to speak with a peer whose HELLO had header version `peer_version` and
/// body `peer`, given the versions we allow.
pub fn negotiate(ours: &[Version], peer_version: u8, peer: &Hello) -> Result<Version, OfpError> {
    let peer_speaks = |v: Version| match peer.bitmap() {
        Some(words) => {
            let w = usize::from(v.wire() / 32);
            words
                .get(w)
                .is_some_and(|b| b & (1 << (v.wire() % 32)) != 0)
        }
        None => v.wire() <= peer_version,
    };
    ours.iter()
        .copied()
        .filter(|&v| peer_speaks(v))
        .max()
        .ok_or(OfpError::OFPHFC_INCOMPATIBLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_hello_round_trip() {
        // Body of the OF1.3 HELLO ovs-ofctl sends with -O OpenFlow10,OpenFlow13.
        let body = [0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x12];
        let h = Hello::parse(&mut Reader::new(&body, OfpError::OFPBRC_BAD_LEN)).unwrap();
        assert_eq!(h.bitmap(), Some(&[0x12u32][..]));
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out, body);
        assert_eq!(Hello::for_versions(&[Version::V1_0, Version::V1_3]), h);
    }

    #[test]
    fn negotiation() {
        let all = [Version::V1_0, Version::V1_3, Version::V1_4, Version::V1_5];
        let bm = Hello {
            elements: vec![HelloElement::VersionBitmap(vec![0x12])],
        };
        assert_eq!(negotiate(&all, 4, &bm), Ok(Version::V1_3));
        assert_eq!(negotiate(&all, 1, &Hello::default()), Ok(Version::V1_0));
        assert_eq!(negotiate(&all, 5, &Hello::default()), Ok(Version::V1_4));
        // A 1.1-only peer shares nothing with us.
        let only11 = Hello {
            elements: vec![HelloElement::VersionBitmap(vec![0x04])],
        };
        assert_eq!(
            negotiate(&all, 2, &only11),
            Err(OfpError::OFPHFC_INCOMPATIBLE)
        );
        assert_eq!(
            negotiate(&[Version::V1_3], 1, &Hello::default()),
            Err(OfpError::OFPHFC_INCOMPATIBLE)
        );
    }
}
