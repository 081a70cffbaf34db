"""An os-ken app that resumes ferrovs continuations after rewriting the packet.

The switch connects to us. We ask for NXT_PACKET_IN2 (NXT_SET_PACKET_IN_FORMAT), then for
every NXT_PACKET_IN2 that carries a continuation we rewrite its packet (a public property):
the IPv4 destination becomes 10.0.0.77, with os-ken recomputing the IP and UDP checksums.
We send NXT_RESUME with the new packet and every other property as received (os-ken 4.2.2
has no NXT_RESUME class: it is an OFPExperimenter with NX's id and subtype 28), then a
barrier. The Rust test installs the flows, sends the traffic and checks what leaves.

The report (FVS_E2E_REPORT) is rewritten after every packet-in: what each packet-in held
and any OpenFlow error the switch sent.
"""

import json
import os
import struct

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, ipv4, packet
from os_ken.ofproto import nicira_ext, ofproto_common, ofproto_v1_3

NXT_RESUME = 28
NEW_DST = "10.0.0.77"


def prop(ptype, data):
    """One NXT_PACKET_IN2/NXT_RESUME property: header, payload, zero padding to 8."""
    body = struct.pack("!HH", ptype, 4 + len(data)) + bytes(data)
    return body + b"\0" * (-len(body) % 8)


class ContinuationApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = {"packet_ins": [], "errors": [], "ready": False}

    def save(self):
        path = os.environ.get("FVS_E2E_REPORT")
        if path:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.report, f)
            os.replace(tmp, path)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def on_features(self, ev):
        dp = ev.msg.datapath
        parser = dp.ofproto_parser
        dp.send_msg(parser.NXTSetPacketInFormatMsg(dp, 2))
        dp.send_msg(parser.OFPBarrierRequest(dp))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def on_barrier(self, ev):
        if not self.report["ready"]:
            self.report["ready"] = True
            self.save()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def on_error(self, ev):
        m = ev.msg
        self.report["errors"].append({"xid": m.xid, "type": m.type, "code": m.code})
        self.save()

    @staticmethod
    def cookie(msg):
        """The COOKIE property as Open vSwitch writes it: 4 zero bytes that align the 64-bit
        value, then the value. os-ken 4.2.2 reads the first 8 bytes instead."""
        for p in msg.properties:
            if p.type == nicira_ext.NXPINT_COOKIE and len(p.data) == 12:
                return struct.unpack_from("!Q", p.data, 4)[0]
        return None

    @set_ev_cls(ofp_event.EventNXTPacketIn2, MAIN_DISPATCHER)
    def on_packet_in2(self, ev):
        msg = ev.msg
        dp = msg.datapath
        pkt = packet.Packet(bytes(msg.data))
        eth = pkt.get_protocol(ethernet.ethernet)
        ip = pkt.get_protocol(ipv4.ipv4)
        seen = {
            "eth_src": eth.src if eth else None,
            "ip_dst": ip.dst if ip else None,
            "table_id": msg.table_id,
            "cookie": self.cookie(msg),
            "reason": msg.reason,
            "continuation": msg.continuation is not None,
        }
        self.report["packet_ins"].append(seen)
        self.save()
        if msg.continuation is None or ip is None:
            return
        # Rewrite the public packet: a new destination, checksums recomputed on serialize.
        ip.dst = NEW_DST
        ip.csum = 0
        for p in pkt.protocols:
            if hasattr(p, "csum") and p is not ip:
                p.csum = 0
        pkt.serialize()
        body = prop(nicira_ext.NXPINT_PACKET, pkt.data)
        for p in msg.properties:
            if p.type != nicira_ext.NXPINT_PACKET:
                body += prop(p.type, p.data)
        resume = dp.ofproto_parser.OFPExperimenter(
            dp, ofproto_common.NX_EXPERIMENTER_ID, NXT_RESUME, bytes(body))
        dp.send_msg(resume)
        dp.send_msg(dp.ofproto_parser.OFPBarrierRequest(dp))
