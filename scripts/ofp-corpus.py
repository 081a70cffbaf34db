#!/usr/bin/env python3
"""Regenerate tests/data/ofp/corpus.txt: OpenFlow bytes that ovs-ofctl really sends.

For each case below, this script listens on 127.0.0.1 (an ephemeral port), runs
`ovs-ofctl ... tcp:127.0.0.1:PORT ...` against it, plays just enough of a switch (hello,
features, echo, barrier, empty multipart replies, bundle replies) for ovs-ofctl to finish,
and records every message ovs-ofctl sent. Each recorded message is also decoded with
`ovs-ofctl ofp-print HEX`, so the tests can compare our printer with Open vSwitch's.

Usage: scripts/ofp-corpus.py [OUTPUT]   (default tests/data/ofp/corpus.txt)
       scripts/ofp-corpus.py --fuzz-seeds   (writes fuzz/corpus/* from the stored corpus)
Needs only Python 3 and ovs-ofctl (Debian package openvswitch-common).

Output format, one record per line:
    case NAME VERSION ARGS...   a new case; VERSION is the -O value
    msg HEX                     one message ovs-ofctl sent (HELLO included)
    print TEXT                  one line of `ovs-ofctl ofp-print` for the last msg
"""

import os
import socket
import struct
import subprocess
import sys
import threading

OFCTL = "ovs-ofctl"
VERSIONS = {"OpenFlow10": 1, "OpenFlow13": 4, "OpenFlow14": 5, "OpenFlow15": 6}


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_msg(sock):
    hdr = recv_exact(sock, 8)
    if hdr is None:
        return None
    length = struct.unpack("!H", hdr[2:4])[0]
    if length < 8:
        return None
    body = recv_exact(sock, length - 8)
    if body is None:
        return None
    return hdr + body


def msg(version, mtype, xid, body=b""):
    return struct.pack("!BBHI", version, mtype, 8 + len(body), xid) + body


def port_desc(version, port_no):
    """A port description for `port_no` (named pN) in `version`'s layout."""
    mac = bytes([0, 0, 0, 0, 0, port_no])
    name = ("p%d" % port_no).encode()
    if version == 1:
        return struct.pack("!H6s16sIIIIII", port_no, mac, name, 0, 0, 0xC0, 0, 0, 0)
    if version == 4:
        return struct.pack("!I4x6s2x16sIIIIIIII", port_no, mac, name, 0, 0, 0x2040, 0, 0, 0, 10000000, 10000000)
    eth = struct.pack("!HH4xIIIIII", 0, 32, 0x2040, 0, 0, 0, 10000000, 10000000)
    return struct.pack("!IH2x6s2x16sII", port_no, 72, mac, name, 0, 0) + eth


def features_reply(version, xid):
    if version == 1:
        body = struct.pack("!QIB3xII", 1, 256, 254, 0xc7, 0xfff)
        body += port_desc(1, 1) + port_desc(1, 2)
    else:
        body = struct.pack("!QIBB2xII", 1, 256, 254, 0, 0x4f, 0)
    return msg(version, 6, xid, body)


def multipart_body(version, mtype, req):
    """A minimal valid reply body for a stats/multipart request of type `mtype`."""
    if mtype == 0:  # desc
        return b"\0" * 1056
    if mtype == 2:  # aggregate
        return b"\0" * 24
    if mtype == 3:  # table: one table
        if version == 1:
            return struct.pack("!B3x32sIIIQQ", 0, b"table0", 0x3FFFFF, 1000000, 0, 0, 0)
        return struct.pack("!B3xIQQ", 0, 0, 0, 0)
    if mtype == 8:  # group features
        return b"\0" * 40
    if mtype == 11:  # meter features
        return b"\0" * 16
    if mtype == 14:  # table desc: tables 0 and 1, no properties
        return struct.pack("!HBxI", 8, 0, 0) + struct.pack("!HBxI", 8, 1, 0)
    if mtype == 13:  # port desc: ports 1 and 2
        return port_desc(version, 1) + port_desc(version, 2)
    if mtype == 12:  # table features: one table, no properties
        # ovs-ofctl insists on the eight required properties, even when empty.
        props = b"".join(struct.pack("!HH4x", t, 4) for t in (0, 2, 4, 6, 8, 10, 12, 14))
        return struct.pack("!HB5x32sQQII", 64 + len(props), 0, b"table0", 0, 0, 0, 1000000) + props
    if mtype == 0xFFFF:  # vendor stats: echo vendor and subtype
        vendor_hdr = req[:8] + b"\0" * 4
        subtype = struct.unpack("!I", req[4:8])[0]
        return vendor_hdr + (b"\0" * 24 if subtype == 1 else b"")
    return b""


def prop(ptype, value):
    """An 8-aligned property (type, length, value, padding)."""
    body = struct.pack("!HH", ptype, 4 + len(value)) + value
    return body + b"\0" * ((8 - len(body) % 8) % 8)


def packet_in2(version):
    """A paused NXT_PACKET_IN2 with a continuation, as a switch sends for
    `controller(pause)`, so that `ovs-ofctl monitor ... resume` answers with NXT_RESUME."""
    frame = bytes.fromhex("ffffffffffff00000000000108060001080006040001000000000001c0a80001000000000000c0a80002")
    # 64-bit property values follow 4 pad bytes so that they are 8-aligned.
    nested = prop(0x8004, b"\x03\0\0\0") + prop(0x8005, struct.pack("!4xQ", 0x12))
    props = (
        prop(0, frame)
        + prop(1, struct.pack("!I", len(frame)))
        + prop(3, b"\x03\0\0\0")
        + prop(4, struct.pack("!4xQ", 0x12))
        + prop(5, b"\x01\0\0\0")
        + prop(6, bytes.fromhex("8000000400000001"))
        + prop(8, b"\0\0\0\0" + nested)
    )
    return msg(version, 4, 0, struct.pack("!II", 0x2320, 30) + props)


def answer(version, m):
    """What a minimal switch answers to message `m`, or None."""
    mtype = m[1]
    xid = struct.unpack("!I", m[4:8])[0]
    if mtype == 2:  # echo request
        return msg(version, 3, xid, m[8:])
    if mtype == 5:
        return features_reply(version, xid)
    if mtype == 7:  # get config
        return msg(version, 8, xid, struct.pack("!HH", 0, 128))
    if version == 1:
        if mtype == 20:  # queue get config: no queues
            return msg(version, 21, xid, m[8:10] + b"\0" * 6)
        if mtype == 18:
            return msg(version, 19, xid)
        if mtype == 16:  # stats request
            st = struct.unpack("!H", m[8:10])[0]
            return msg(version, 17, xid, m[8:10] + b"\0\0" + multipart_body(version, st, m[12:]))
    else:
        if mtype == 22 and version <= 4:  # queue get config: no queues
            return msg(version, 23, xid, m[8:12] + b"\0" * 4)
        if mtype == 20:
            return msg(version, 21, xid)
        if mtype == 18:
            st = struct.unpack("!H", m[8:10])[0]
            body = multipart_body(version, st, m[16:])
            return msg(version, 19, xid, m[8:10] + b"\0" * 6 + body)
        if mtype == 33:  # bundle control (1.4+)
            bid, ctype, flags = struct.unpack("!IHH", m[8:16])
            return msg(version, 33, xid, struct.pack("!IHH", bid, ctype + 1, flags))
        if mtype == 4 and m[8:16] == struct.pack("!II", 0x4F4E4600, 2300):
            bid, ctype, flags = struct.unpack("!IHH", m[16:24])
            return msg(version, 4, xid, m[8:16] + struct.pack("!IHH", bid, ctype + 1, flags))
    return None


def serve_conn(conn, version, out, lock):
    conn.settimeout(1)
    want_packet_in2 = False
    with conn:
        try:
            conn.sendall(msg(version, 0, 1))
            while True:
                m = recv_msg(conn)
                if m is None:
                    return
                with lock:
                    out.append(m)
                reply = answer(version, m)
                if reply is not None:
                    conn.sendall(reply)
                # After NXT_SET_PACKET_IN_FORMAT(NXT_PACKET_IN2) and the barrier that
                # follows it, send one paused packet-in (ovs-ofctl ignores async messages
                # while it waits for a barrier reply).
                if m[1] == 4 and m[8:20] == struct.pack("!III", 0x2320, 16, 2):
                    want_packet_in2 = True
                elif want_packet_in2 and reply is not None and reply[1] in (19, 21):
                    want_packet_in2 = False
                    conn.sendall(packet_in2(version))
        except (socket.timeout, ConnectionError):
            return


def record(version_name, args):
    """Runs ovs-ofctl against a recording listener; returns the messages it sent, in the
    order they arrived (ovs-ofctl may open more than one connection, one after another)."""
    version = VERSIONS[version_name]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    got = []
    lock = threading.Lock()
    threads = []
    target = "tcp:127.0.0.1:%d" % port
    argv = [OFCTL, "-t", "5", "--unixctl=/tmp/ofp-corpus-%d.ctl" % os.getpid(), "-O", version_name]
    argv += [target if a == "SWITCH" else a for a in args]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        t = threading.Thread(target=serve_conn, args=(conn, version, got, lock))
        t.start()
        threads.append(t)
    err = proc.stderr.read()
    proc.stderr.close()
    if proc.returncode != 0 and os.environ.get("OFP_CORPUS_DEBUG"):
        sys.stderr.write("%s: %s" % (" ".join(argv), err))
    for t in threads:
        t.join()
    listener.close()
    return got


def ofp_print(m):
    r = subprocess.run([OFCTL, "ofp-print", m.hex()], capture_output=True, text=True, check=False)
    return r.stdout.rstrip("\n").split("\n")


def cases():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "data", "ofp", "cases.txt")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, versions, rest = line.split(" ", 2)
            yield name, versions.split(","), rest


def split_args(rest):
    # Arguments are separated by " ; " so that flows may contain spaces.
    return [a.strip() for a in rest.split(" ; ")]


def fuzz_seeds(here):
    """Seeds the cargo-fuzz corpora with the recorded messages and flow texts."""
    import hashlib

    root = os.path.join(here, "..")
    dec = os.path.join(root, "fuzz", "corpus", "ofp_decode")
    syn = os.path.join(root, "fuzz", "corpus", "ofp_flow_syntax")
    os.makedirs(dec, exist_ok=True)
    os.makedirs(syn, exist_ok=True)
    with open(os.path.join(root, "tests", "data", "ofp", "corpus.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("msg "):
                data, where = bytes.fromhex(line[4:]), dec
            elif line.startswith("case ") and " add-flow ; SWITCH ; " in line:
                data, where = line.split(" add-flow ; SWITCH ; ", 1)[1].encode(), syn
            else:
                continue
            name = hashlib.sha1(data).hexdigest()[:16]
            with open(os.path.join(where, name), "wb") as out:
                out.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.argv[1:] == ["--fuzz-seeds"]:
        fuzz_seeds(here)
        return
    default = os.path.join(here, "..", "tests", "data", "ofp", "corpus.txt")
    out_path = sys.argv[1] if len(sys.argv) > 1 else default
    lines = []
    for name, versions, rest in cases():
        for v in versions:
            args = split_args(rest)
            got = record(v, args)
            if len(got) <= 1:
                sys.stderr.write("no messages for %s %s\n" % (name, v))
            lines.append("case %s %s %s" % (name, v, " ; ".join(args)))
            for m in got:
                lines.append("msg " + m.hex())
                for p in ofp_print(m):
                    lines.append("print " + p)
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
