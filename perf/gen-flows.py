#!/usr/bin/env python3
"""Datapath flow tables (dpctl syntax, for `ferrovs run --flows`) for the
whole-switch benchmark cases of ../shared/design/PERF.md.

The traffic is scripts/gen-traffic.py's: packet i (0 <= i < N) is
10.0.0.0+i -> 172.16.0.1, UDP 1024+(i % 60000) -> 5001, from in_port 1.
Every flow outputs to port 2.

  p2p    in_port(1), actions:2 -- the megaflow OVS installs for
         `in_port=1,actions=output:2`.
  exact  one exact 5-tuple megaflow per packet of the traffic (what OVS
         installs for the ACL with prefix tracking off).
  acl    the megaflows a translation of PERF.md's ACL table (1,000 exact
         5-tuple rules for flows 0, 100, ..., 99,900 at priority 100, plus a
         priority-0 catch-all) would install with nw_src prefix tracking, for
         the packets of the traffic:
         - packet i with i % 100 == 0 hits its rule: an exact 5-tuple megaflow;
         - every other packet hits the catch-all. Prefix tracking un-wildcards
           nw_src only as far as needed to tell the packet apart from every
           rule address: one bit past the longest prefix it shares with any
           rule. Those prefixes are exactly the maximal CIDR blocks that hold
           no rule address (the siblings along the trie paths to the rule
           addresses), so the megaflows are that decomposition, restricted
           to blocks that hold at least one packet of the traffic. They are
           disjoint from each other and from the exact megaflows (a block
           holds no rule address), so the table is a valid non-overlapping
           datapath table.
         Mask per prefix megaflow: eth_type, ipv4 src/len and frag (the
         catch-all's subtable reached through the rules' staged lookup).

Prints the flows on stdout; `--stats` prints flow and mask counts on stderr.
"""

import argparse
import ipaddress
import sys

BASE = int(ipaddress.IPv4Address("10.0.0.0"))
DST = "172.16.0.1"
DPORT = 5001
RULE_STRIDE = 100
RULES = 1000


def ip(n):
    return str(ipaddress.IPv4Address(n))


def sport(i):
    return 1024 + (i % 60000)


def exact_flow(i):
    return (f"in_port(1),eth_type(0x0800),ipv4(src={ip(BASE + i)},dst={DST},proto=17,frag=no),"
            f"udp(src={sport(i)},dst={DPORT}), actions:2")


def free_blocks(rules, lo, hi):
    """Maximal CIDR blocks (prefix, length) holding no address of the sorted
    list `rules` and intersecting [lo, hi]."""
    out = []
    # (prefix, length, slice of rules inside): an explicit stack, in address order.
    stack = [(0, 0, 0, len(rules))]
    while stack:
        prefix, length, a, b = stack.pop()
        size = 1 << (32 - length)
        if prefix > hi or prefix + size - 1 < lo:
            continue
        if a == b:
            out.append((prefix, length))
            continue
        if length == 32:
            continue  # a rule address: its exact megaflow covers it
        half = size >> 1
        mid = a
        while mid < b and rules[mid] < prefix + half:
            mid += 1
        # Push the upper half first so the lower one comes out first.
        stack.append((prefix + half, length + 1, mid, b))
        stack.append((prefix, length + 1, a, mid))
    return out


def acl(n):
    rules = [BASE + RULE_STRIDE * k for k in range(RULES)]
    flows = [exact_flow(i) for i in range(0, min(n, RULE_STRIDE * RULES), RULE_STRIDE)]
    blocks = free_blocks(rules, BASE, BASE + n - 1)
    for prefix, length in blocks:
        mask = ip((0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF)
        flows.append(f"in_port(1),eth_type(0x0800),ipv4(src={ip(prefix)}/{mask},frag=no), actions:2")
    # The exact 5-tuple mask, plus one nw_src mask per prefix length (a /32
    # prefix megaflow masks only src and frag, so it is a mask of its own).
    n_masks = (1 if n > 0 else 0) + len({length for _, length in blocks})
    return flows, n_masks, blocks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", choices=["p2p", "acl", "exact"])
    ap.add_argument("--flows", type=int, required=True, help="packets (flows) in the traffic")
    ap.add_argument("--stats", action="store_true", help="print flow and mask counts on stderr")
    args = ap.parse_args()
    if args.table == "p2p":
        flows, n_masks = ["in_port(1), actions:2"], 1
    elif args.table == "exact":
        flows, n_masks = [exact_flow(i) for i in range(args.flows)], 1
    else:
        flows, n_masks, blocks = acl(args.flows)
        if args.stats:
            lengths = sorted({length for _, length in blocks})
            print(f"acl-{args.flows}: prefix lengths {lengths}", file=sys.stderr)
    sys.stdout.write("\n".join(flows) + "\n")
    if args.stats:
        print(f"{args.table}-{args.flows}: {len(flows)} flows, {n_masks} masks", file=sys.stderr)


if __name__ == "__main__":
    main()
