//! Prefix tracking for address fields: a binary trie over the prefixes that a table's rules
//! match on one field (IPv4/IPv6 source or destination).
//!
//! Why: the classifier reports the bits a lookup examined, and those bits become the
//! megaflow mask. Without tracking, a packet that misses a subtable of `/32` rules
//! un-wildcards all 32 bits of the address, so every address gets its own megaflow. The
//! trie tells the classifier, for one packet, which prefix lengths have any rule at all
//! along the packet's address, and how many leading bits were needed to know that. A
//! subtable whose prefix length is not among them cannot match, and skipping it costs only
//! those leading bits in the mask.
//!
//! Vocabulary: a *prefix* is (value, length in bits) with the value's bits past the length
//! zero; *maskbits* is how many leading address bits the answer depended on.
//!
//! Invariants: `nodes[0]` is the root and always exists; a node whose `through` count is 0
//! is treated as absent (nodes are never freed, only reused, which keeps removal simple);
//! the trie holds each inserted (prefix, length) as many times as it was inserted.

/// A set of prefix lengths 0..=128.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixLens([u64; 3]);

impl PrefixLens {
    fn insert(&mut self, len: u32) {
        self.0[(len / 64) as usize] |= 1 << (len % 64);
    }

    pub fn contains(&self, len: u32) -> bool {
        len <= 128 && self.0[(len / 64) as usize] & (1 << (len % 64)) != 0
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Child for bit 0 and bit 1; 0 means none (the root is never a child).
    child: [u32; 2],
    /// Prefixes that end exactly here.
    ends: u32,
    /// Prefixes that end here or below.
    through: u32,
}

/// A binary trie of prefixes of one field (`width` bits, big-endian bytes).
#[derive(Debug, Clone)]
pub struct PrefixTrie {
    width: u32,
    nodes: Vec<Node>,
}

fn bit(value: &[u8], i: u32) -> usize {
    let byte = value.get((i / 8) as usize).copied().unwrap_or(0);
    usize::from((byte >> (7 - i % 8)) & 1)
}

impl PrefixTrie {
    pub fn new(width: u32) -> PrefixTrie {
        PrefixTrie {
            width,
            nodes: vec![Node::default()],
        }
    }

    fn live(&self, idx: u32) -> bool {
        idx != 0 && self.nodes[idx as usize].through > 0
    }

    /// Adds one prefix of `len` bits of `value`.
    pub fn insert(&mut self, value: &[u8], len: u32) {
        let len = len.min(self.width);
        let mut at = 0usize;
        self.nodes[0].through += 1;
        for i in 0..len {
            let b = bit(value, i);
            let next = self.nodes[at].child[b];
            let next = if next == 0 {
                self.nodes.push(Node::default());
                let n = (self.nodes.len() - 1) as u32;
                self.nodes[at].child[b] = n;
                n
            } else {
                next
            };
            at = next as usize;
            self.nodes[at].through += 1;
        }
        self.nodes[at].ends += 1;
    }

    /// Removes one prefix that [`PrefixTrie::insert`] added; unknown prefixes are ignored.
    pub fn remove(&mut self, value: &[u8], len: u32) {
        let len = len.min(self.width);
        let mut path = Vec::with_capacity(len as usize + 1);
        let mut at = 0usize;
        path.push(at);
        for i in 0..len {
            let next = self.nodes[at].child[bit(value, i)];
            if !self.live(next) {
                return;
            }
            at = next as usize;
            path.push(at);
        }
        if self.nodes[at].ends == 0 {
            return;
        }
        self.nodes[at].ends -= 1;
        for n in path {
            self.nodes[n].through -= 1;
        }
    }

    /// The prefix lengths with a prefix along `value`, and how many leading bits of
    /// `value` that answer depends on.
    pub fn lookup(&self, value: &[u8]) -> (PrefixLens, u32) {
        let mut lens = PrefixLens::default();
        let mut at = 0usize;
        for d in 0..self.width {
            let node = &self.nodes[at];
            if node.ends > 0 {
                lens.insert(d);
            }
            let b = bit(value, d);
            let next = node.child[b];
            if !self.live(next) {
                // The packet leaves the trie here; bit `d` was needed only if some
                // prefix goes the other way.
                let needed = if self.live(node.child[1 - b]) {
                    d + 1
                } else {
                    d
                };
                return (lens, needed);
            }
            at = next as usize;
        }
        if self.nodes[at].ends > 0 {
            lens.insert(self.width);
        }
        (lens, self.width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_reports_lengths_and_needed_bits() {
        let mut t = PrefixTrie::new(32);
        t.insert(&[10, 0, 0, 0], 8);
        t.insert(&[10, 1, 0, 0], 16);
        t.insert(&[10, 1, 2, 3], 32);
        let (lens, bits) = t.lookup(&[10, 1, 2, 3]);
        assert!(lens.contains(8) && lens.contains(16) && lens.contains(32));
        assert_eq!(bits, 32);
        // 10.1.2.2 differs from 10.1.2.3 in the last bit.
        let (lens, bits) = t.lookup(&[10, 1, 2, 2]);
        assert!(lens.contains(16) && !lens.contains(32));
        assert_eq!(bits, 32);
        // 10.2.0.0 leaves the /16 branch at bit 14 (10.1 = ...01, 10.2 = ...10).
        let (lens, bits) = t.lookup(&[10, 2, 0, 0]);
        assert!(lens.contains(8) && !lens.contains(16));
        assert_eq!(bits, 15);
        // 11.0.0.0 leaves at bit 7.
        let (lens, bits) = t.lookup(&[11, 0, 0, 0]);
        assert_eq!(lens, PrefixLens::default());
        assert_eq!(bits, 8);
        t.remove(&[10, 1, 2, 3], 32);
        t.remove(&[10, 1, 0, 0], 16);
        // Only 10/8 is left: past bit 8 nothing branches, so 8 bits suffice.
        let (lens, bits) = t.lookup(&[10, 1, 2, 3]);
        assert!(lens.contains(8) && !lens.contains(16));
        assert_eq!(bits, 8);
        t.remove(&[10, 0, 0, 0], 8);
        assert_eq!(t.lookup(&[10, 1, 2, 3]), (PrefixLens::default(), 0));
    }

    #[test]
    fn duplicate_prefixes_are_counted() {
        let mut t = PrefixTrie::new(32);
        t.insert(&[1, 2, 3, 4], 32);
        t.insert(&[1, 2, 3, 4], 32);
        t.remove(&[1, 2, 3, 4], 32);
        assert!(t.lookup(&[1, 2, 3, 4]).0.contains(32));
        t.remove(&[1, 2, 3, 4], 32);
        assert!(!t.lookup(&[1, 2, 3, 4]).0.contains(32));
        // Removing what is not there changes nothing.
        t.remove(&[9, 9, 9, 9], 32);
        assert_eq!(t.lookup(&[9, 9, 9, 9]).1, 0);
    }
}
