#!/usr/bin/env python3
"""Writes a pcap of UDP/IPv4 test traffic for ferrovs demos and benchmarks.

Packet i of N is one flow: 02:00:00:00:00:01 -> 02:00:00:00:00:02,
10.0.0.0+i -> 172.16.0.1, UDP 1024+(i % 60000) -> 5001, TTL 64, padded
with zeros to --size bytes (60 by default: 64 on the wire with the FCS).
This is the traffic of ../shared/design/PERF.md, so ferrovs and its peers
forward the same frames. Standard library only.
"""

import argparse
import ipaddress
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(i: int, size: int) -> bytes:
    src = int(ipaddress.IPv4Address("10.0.0.0")) + i
    dst = int(ipaddress.IPv4Address("172.16.0.1"))
    sport, dport = 1024 + (i % 60000), 5001
    payload_len = max(size - 14 - 20 - 8, 0)
    udp_len = 8 + payload_len
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    pseudo = struct.pack("!IIBBH", src, dst, 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + b"\0" * payload_len
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip + udp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="pcap file to write")
    ap.add_argument("--flows", type=int, default=1, help="number of flows (= packets in the file)")
    ap.add_argument("--size", type=int, default=60, help="frame size without FCS (>= 42)")
    args = ap.parse_args()
    if args.flows < 1 or args.flows > 1 << 24 or args.size < 42 or args.size > 1514:
        print("gen-traffic: --flows must be 1..16777216 and --size 42..1514", file=sys.stderr)
        return 2
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(args.flows):
            fr = frame(i, args.size)
            f.write(struct.pack("<IIII", 0, i % 1000000, len(fr), len(fr)))
            f.write(fr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
