//! The `ovs-ofctl` syntax of groups (`add-group`) and meters (`add-meter`): parse and print.
//!
//! Groups: `group_id=N,type=all|select|indirect|ff,bucket=[weight:W,][watch_port:P,]
//! [watch_group:G,][actions=]ACTIONS,bucket=…`. Meters: `meter=N,kbps|pktps,[burst,]
//! [stats,]band=type=drop|dscp_remark,rate=R[,burst_size=B][,prec_level=L],band=…`.

use std::fmt::Write;

use super::fields::FlowFields;
use super::parse::{parse_actions, SyntaxError};
use super::print::format_actions;
use crate::ofp::ext::{GroupMod, MeterMod};
use crate::ofp::instruction::Instruction;
use crate::ofp::multipart::{Bucket, MeterBand};
use crate::ofp::port;
use crate::ofp::Version;

pub const OFPG_ALL: u32 = 0xffff_fffc;
pub const OFPG_ANY: u32 = 0xffff_ffff;
pub const OFPM_ALL: u32 = 0xffff_ffff;
const GROUP_TYPES: [&str; 4] = ["all", "select", "indirect", "ff"];

fn bad(key: &str, value: &str) -> SyntaxError {
    SyntaxError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

fn num(key: &str, s: &str) -> Result<u32, SyntaxError> {
    let v = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    };
    v.ok_or_else(|| bad(key, s))
}

/// Splits `text` at every `key=` that starts a new element (`bucket=`, `band=`).
fn split_at_key<'a>(text: &'a str, key: &str) -> (&'a str, Vec<&'a str>) {
    let mut parts = text.split(key);
    let head = parts.next().unwrap_or("");
    (head, parts.collect())
}

/// Parses a group for `command` (0 add, 1 modify, 2 delete) in `version`.
pub fn parse_group(text: &str, command: u16, version: Version) -> Result<GroupMod, SyntaxError> {
    let (head, buckets_text) = split_at_key(text, "bucket=");
    let mut g = GroupMod {
        command,
        group_type: 0,
        group_id: if command == 2 { OFPG_ALL } else { 0 },
        buckets: Vec::new(),
    };
    for item in head.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        match k {
            "group_id" => {
                g.group_id = match v {
                    "all" => OFPG_ALL,
                    "any" => OFPG_ANY,
                    _ => num(k, v)?,
                }
            }
            "type" => {
                g.group_type = match v {
                    "fast_failover" => 3,
                    _ => GROUP_TYPES
                        .iter()
                        .position(|t| *t == v)
                        .ok_or_else(|| bad(k, v))? as u8,
                }
            }
            _ => return Err(SyntaxError::UnknownKey(k.to_string())),
        }
    }
    for b in buckets_text {
        let b = b.trim().trim_end_matches(',');
        let mut bucket = Bucket {
            weight: 0,
            watch_port: port::OFPP_ANY,
            watch_group: OFPG_ANY,
            actions: Vec::new(),
        };
        let mut rest = b;
        loop {
            let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
            let (k, v) = item.split_once(':').unwrap_or((item, ""));
            match k {
                "weight" => bucket.weight = num(k, v)? as u16,
                "watch_port" => bucket.watch_port = port::parse(v).ok_or_else(|| bad(k, v))?,
                "watch_group" => bucket.watch_group = num(k, v)?,
                _ => break,
            }
            rest = tail;
        }
        let actions = rest.strip_prefix("actions=").unwrap_or(rest);
        for i in parse_actions(actions, version, &FlowFields::default())? {
            match i {
                Instruction::ApplyActions(a) => bucket.actions.extend(a),
                _ => return Err(bad("bucket", b)),
            }
        }
        g.buckets.push(bucket);
    }
    Ok(g)
}

fn format_buckets(s: &mut String, group_type: u8, buckets: &[Bucket]) {
    for b in buckets {
        s.push_str(",bucket=");
        if group_type == 1 {
            let _ = write!(s, "weight:{},", b.weight);
        }
        if b.watch_port != port::OFPP_ANY {
            let _ = write!(s, "watch_port:{},", port::name(b.watch_port));
        }
        if b.watch_group != OFPG_ANY {
            let _ = write!(s, "watch_group:{},", b.watch_group);
        }
        s.push_str("actions=");
        s.push_str(&format_actions(&b.actions));
    }
}

/// `ADD group_id=2,type=select,bucket=weight:10,actions=output:1`, as `ofp-print` shows a
/// group-mod.
pub fn format_group_mod(g: &GroupMod) -> String {
    let mut s = String::new();
    s.push_str(match g.command {
        0 => "ADD",
        1 => "MOD",
        2 => "DEL",
        _ => "cmd:?",
    });
    let _ = write!(
        s,
        " group_id={},type={}",
        g.group_id,
        GROUP_TYPES
            .get(usize::from(g.group_type))
            .copied()
            .unwrap_or("?")
    );
    format_buckets(&mut s, g.group_type, &g.buckets);
    s
}

/// Parses a meter for `command` (0 add, 1 modify, 2 delete).
pub fn parse_meter(text: &str, command: u16) -> Result<MeterMod, SyntaxError> {
    let (head, bands_text) = split_at_key(text, "band=");
    let mut m = MeterMod {
        command,
        flags: 0,
        meter_id: if command == 2 { OFPM_ALL } else { 0 },
        bands: Vec::new(),
    };
    for item in head.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        match k {
            "meter" => m.meter_id = if v == "all" { OFPM_ALL } else { num(k, v)? },
            "kbps" => m.flags |= 1,
            "pktps" => m.flags |= 2,
            "burst" => m.flags |= 4,
            "stats" => m.flags |= 8,
            _ => return Err(SyntaxError::UnknownKey(k.to_string())),
        }
    }
    if command != 2 && m.flags & 3 == 0 {
        m.flags |= 1;
    }
    for b in bands_text {
        let mut band = MeterBand {
            band_type: 0,
            rate: 0,
            burst_size: 0,
            extra: 0,
        };
        for item in b.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            match k {
                "type" => {
                    band.band_type = match v {
                        "drop" => 1,
                        "dscp_remark" => 2,
                        _ => return Err(bad(k, v)),
                    }
                }
                "rate" => band.rate = num(k, v)?,
                "burst_size" => band.burst_size = num(k, v)?,
                "prec_level" => band.extra = num(k, v)?,
                _ => return Err(SyntaxError::UnknownKey(k.to_string())),
            }
        }
        m.bands.push(band);
    }
    Ok(m)
}

/// As `ofp-print` shows a meter-mod: `ADD meter=3 kbps bands=` then one line per band.
pub fn format_meter_mod(m: &MeterMod) -> String {
    let mut s = String::new();
    s.push_str(match m.command {
        0 => "ADD",
        1 => "MOD",
        2 => "DEL",
        _ => "cmd:?",
    });
    s.push_str(" meter=");
    match m.meter_id {
        OFPM_ALL => s.push_str("all"),
        0xffff_fffd => s.push_str("controller"),
        0xffff_fffe => s.push_str("slowpath"),
        id => {
            let _ = write!(s, "{id}");
        }
    }
    for (bit, name) in [(1, "kbps"), (2, "pktps"), (4, "burst"), (8, "stats")] {
        if m.flags & bit != 0 {
            let _ = write!(s, " {name}");
        }
    }
    s.push_str(" bands=");
    for b in &m.bands {
        s.push('\n');
        let _ = write!(
            s,
            "type={} rate={}",
            match b.band_type {
                1 => "drop",
                2 => "dscp_remark",
                _ => "experimenter",
            },
            b.rate
        );
        if m.flags & 4 != 0 {
            let _ = write!(s, " burst_size={}", b.burst_size);
        }
        if b.band_type == 2 {
            let _ = write!(s, " prec_level={}", b.extra);
        }
    }
    s
}
