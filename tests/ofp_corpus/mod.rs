//! Reader for tests/data/ofp/corpus.txt (format described in scripts/ofp-corpus.py).
// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

pub struct Msg {
    pub bytes: Vec<u8>,
    /// `ovs-ofctl ofp-print` of `bytes`, one string per line.
    pub print: Vec<String>,
}

pub struct Case {
    pub name: String,
    pub version: String,
    pub args: Vec<String>,
    pub msgs: Vec<Msg>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("corpus hex"))
        .collect()
}

pub fn load() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ofp/corpus.txt");
    let text = std::fs::read_to_string(path).expect("corpus file");
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("case ") {
            let mut it = rest.splitn(3, ' ');
            let name = it.next().unwrap_or("").to_string();
            let version = it.next().unwrap_or("").to_string();
            let args = it
                .next()
                .unwrap_or("")
                .split(" ; ")
                .map(str::to_string)
                .collect();
            cases.push(Case {
                name,
                version,
                args,
                msgs: Vec::new(),
            });
        } else if let Some(h) = line.strip_prefix("msg ") {
            if let Some(c) = cases.last_mut() {
                c.msgs.push(Msg {
                    bytes: unhex(h),
                    print: Vec::new(),
                });
            }
        } else if let Some(p) = line.strip_prefix("print ") {
            if let Some(m) = cases.last_mut().and_then(|c| c.msgs.last_mut()) {
                m.print.push(p.to_string());
            }
        }
    }
    cases
}
