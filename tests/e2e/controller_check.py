"""An os-ken app that exercises the controller side of ferrovs and writes a JSON report.

The switch connects to us. Once its features arrive a green thread walks a fixed script: become
master with a generation id (and check a stale one is refused), set the async configuration and
read it back, install flows, a group and a meter, wait for the flow-removed of a rule with a 1 s
idle timeout, send packet-outs that must come back as packet-ins, then ask for every OpenFlow 1.3 statistics type and check each reply's contents.
Each step records {"ok": bool, "detail": str} under its name; the report file (FVS_E2E_REPORT)
is written when the script ends, whatever happened, and the Rust test asserts on it.
"""

import json
import os
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

GENERATION = 0x1234
IDLE_COOKIE = 0x22
FIXED_COOKIE = 0x11

STATS_EVENTS = [
    ofp_event.EventOFPDescStatsReply, ofp_event.EventOFPFlowStatsReply,
    ofp_event.EventOFPAggregateStatsReply, ofp_event.EventOFPTableStatsReply,
    ofp_event.EventOFPPortStatsReply, ofp_event.EventOFPPortDescStatsReply,
    ofp_event.EventOFPQueueStatsReply, ofp_event.EventOFPGroupStatsReply,
    ofp_event.EventOFPGroupDescStatsReply, ofp_event.EventOFPMeterStatsReply,
    ofp_event.EventOFPMeterConfigStatsReply, ofp_event.EventOFPMeterFeaturesStatsReply,
    ofp_event.EventOFPTableFeaturesStatsReply,
]


class ControllerCheck(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = {"checks": {}, "errors": [], "done": False}
        self.replies = {}      # xid -> list of messages (multipart parts in order)
        self.complete = {}     # xid -> hub.Event set when the last part arrived
        self.flow_removed = []
        self.packet_ins = []
        self.started = False

    # ---- plumbing -------------------------------------------------------------------------

    @staticmethod
    def show(x):
        """A readable dict of a parsed message or body entry, without the raw bytes."""
        if hasattr(x, "_asdict"):
            return dict(x._asdict())
        return {k: v for k, v in vars(x).items() if k not in ("datapath", "buf")}

    def check(self, name, ok, detail=""):
        self.report["checks"][name] = {"ok": bool(ok), "detail": str(detail)}

    def request(self, dp, msg, timeout=5.0):
        """Sends msg and returns every reply part with its xid (an error counts), or None."""
        dp.set_xid(msg)
        self.complete[msg.xid] = hub.Event()
        dp.send_msg(msg)
        self.complete[msg.xid].wait(timeout=timeout)
        return self.replies.get(msg.xid) if self.complete[msg.xid].is_set() else None

    def collect(self, msg, last=True):
        self.replies.setdefault(msg.xid, []).append(msg)
        if last and msg.xid in self.complete:
            self.complete[msg.xid].set()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def on_error(self, ev):
        m = ev.msg
        self.report["errors"].append({"xid": m.xid, "type": m.type, "code": m.code})
        self.collect(m)

    @set_ev_cls([ofp_event.EventOFPRoleReply, ofp_event.EventOFPGetAsyncReply,
                 ofp_event.EventOFPBarrierReply], MAIN_DISPATCHER)
    def on_reply(self, ev):
        self.collect(ev.msg)

    @set_ev_cls(STATS_EVENTS, MAIN_DISPATCHER)
    def on_stats(self, ev):
        m = ev.msg
        self.collect(m, last=not (m.flags & ofproto_v1_3.OFPMPF_REPLY_MORE))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def on_packet_in(self, ev):
        self.packet_ins.append(ev.msg)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def on_flow_removed(self, ev):
        self.flow_removed.append(ev.msg)

    @set_ev_cls(ofp_event.EventOFPStateChange, MAIN_DISPATCHER)
    def on_main(self, ev):
        if not self.started:
            self.started = True
            hub.spawn(self.run_script, ev.datapath)

    def write_report(self):
        path = os.environ.get("FVS_E2E_REPORT")
        if path:
            with open(path + ".tmp", "w") as f:
                json.dump(self.report, f, indent=1, sort_keys=True)
            os.rename(path + ".tmp", path)
        print("controller_check: report written", flush=True)

    def run_script(self, dp):
        try:
            self.script(dp)
        except Exception as e:  # the report must say what broke, not hang the test
            self.report["exception"] = repr(e)
        self.report["done"] = True
        self.write_report()

    # ---- the script -----------------------------------------------------------------------

    def stats(self, dp, name, req):
        parts = self.request(dp, req)
        if parts is None:
            self.check(name, False, "no reply")
            return None
        if any(isinstance(p, dp.ofproto_parser.OFPErrorMsg) for p in parts):
            self.check(name, False, "error reply %r" % [(p.type, p.code) for p in parts])
            return None
        body = []
        for p in parts:
            if isinstance(p.body, list):
                body.extend(p.body)
            else:
                body.append(p.body)
        return body

    def script(self, dp):
        ofp = dp.ofproto
        parser = dp.ofproto_parser

        # Role: master with a generation id, then a stale generation must be refused.
        parts = self.request(dp, parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, GENERATION))
        r = parts[0] if parts else None
        self.check("role_master", isinstance(r, parser.OFPRoleReply)
                   and r.role == ofp.OFPCR_ROLE_MASTER and r.generation_id == GENERATION,
                   self.show(r) if r else "no reply")
        parts = self.request(dp, parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, GENERATION - 1))
        r = parts[0] if parts else None
        self.check("role_stale_refused", isinstance(r, parser.OFPErrorMsg)
                   and r.type == ofp.OFPET_ROLE_REQUEST_FAILED and r.code == ofp.OFPRRFC_STALE,
                   self.show(r) if r else "no reply")

        # Async config: packet-ins for no-match+action, port status all, flow-removed all
        # (master half); slave half distinct so a swapped pair is caught.
        pin = [(1 << ofp.OFPR_NO_MATCH) | (1 << ofp.OFPR_ACTION), 1 << ofp.OFPR_ACTION]
        pst = [0x7, 0x1]
        frm = [0xf, 0x2]
        dp.send_msg(parser.OFPSetAsync(dp, pin, pst, frm))
        parts = self.request(dp, parser.OFPGetAsyncRequest(dp))
        r = parts[0] if parts else None
        self.check("async_config", isinstance(r, parser.OFPGetAsyncReply)
                   and list(r.packet_in_mask) == pin and list(r.port_status_mask) == pst
                   and list(r.flow_removed_mask) == frm, self.show(r) if r else "no reply")

        # Flows, a group and a meter.
        def flow(cookie, priority, match, actions, **kw):
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(parser.OFPFlowMod(dp, cookie=cookie, priority=priority, match=match,
                                          instructions=inst, **kw))

        dp.send_msg(parser.OFPFlowMod(dp, command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL,
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))
        dp.send_msg(parser.OFPGroupMod(dp, ofp.OFPGC_ADD, ofp.OFPGT_ALL, 1,
                                       [parser.OFPBucket(actions=[parser.OFPActionOutput(2)])]))
        dp.send_msg(parser.OFPMeterMod(dp, ofp.OFPMC_ADD, ofp.OFPMF_KBPS, 1,
                                       [parser.OFPMeterBandDrop(rate=1000, burst_size=0)]))
        flow(FIXED_COOKIE, 100, parser.OFPMatch(in_port=1), [parser.OFPActionOutput(2)])
        flow(0x33, 90, parser.OFPMatch(in_port=2), [parser.OFPActionGroup(1)])
        t_idle = time.time()
        flow(IDLE_COOKIE, 50, parser.OFPMatch(eth_type=0x0800, ipv4_dst="10.0.0.9"),
             [parser.OFPActionOutput(1)], idle_timeout=1, flags=ofp.OFPFF_SEND_FLOW_REM)
        parts = self.request(dp, parser.OFPBarrierRequest(dp))
        self.check("barrier", parts and isinstance(parts[0], parser.OFPBarrierReply),
                   parts and self.show(parts[0]))

        # Flow stats while the idle rule still exists: all three, with their fields.
        body = self.stats(dp, "flow_stats", parser.OFPFlowStatsRequest(dp))
        if body is not None:
            by_cookie = {f.cookie: f for f in body}
            f = by_cookie.get(FIXED_COOKIE)
            i = by_cookie.get(IDLE_COOKIE)
            self.check("flow_stats", len(body) == 3 and f is not None and i is not None
                       and f.priority == 100 and f.match.get("in_port") == 1
                       and i.idle_timeout == 1 and i.priority == 50
                       and i.match.get("ipv4_dst") == "10.0.0.9",
                       [(x.cookie, x.priority, x.idle_timeout, dict(x.match.items()))
                        for x in body])
        body = self.stats(dp, "aggregate_stats",
                          parser.OFPAggregateStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY,
                                                          ofp.OFPG_ANY, 0, 0, parser.OFPMatch()))
        if body is not None:
            a = body[0]
            self.check("aggregate_stats", a.flow_count == 3 and a.packet_count == 0,
                       self.show(a))

        # The idle rule must go by itself and tell us so.
        deadline = time.time() + 6
        while not self.flow_removed and time.time() < deadline:
            hub.sleep(0.1)
        fr = self.flow_removed[0] if self.flow_removed else None
        waited = time.time() - t_idle
        self.check("flow_removed", fr is not None and fr.cookie == IDLE_COOKIE
                   and fr.reason == ofp.OFPRR_IDLE_TIMEOUT and fr.idle_timeout == 1
                   and fr.priority == 50 and fr.match.get("ipv4_dst") == "10.0.0.9"
                   and 0.9 <= waited <= 4.0,
                   "%r after %.2fs" % (self.show(fr) if fr else None, waited))

        # Packet-outs that come back as packet-ins: one straight to the controller, one
        # through table 0, where a rule for this experimental ethertype sends it up.
        frame = bytes.fromhex("02000000000202000000000188b5") + bytes(range(50))
        flow(0x44, 60, parser.OFPMatch(eth_type=0x88b5),
             [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])
        for port in (ofp.OFPP_CONTROLLER, ofp.OFPP_TABLE):
            dp.send_msg(parser.OFPPacketOut(
                dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
                actions=[parser.OFPActionOutput(port, ofp.OFPCML_NO_BUFFER)], data=frame))
        deadline = time.time() + 3
        while len(self.packet_ins) < 2 and time.time() < deadline:
            hub.sleep(0.05)
        got = [(bytes(p.data) == frame, p.reason, p.table_id, p.cookie,
                p.match.get("in_port")) for p in self.packet_ins]
        self.check("packet_out_to_controller", len(got) == 2 and got[0][:2] == (True, ofp.OFPR_ACTION)
                   and got[0][4] == ofp.OFPP_CONTROLLER,
                   got)
        self.check("packet_out_through_table", len(got) == 2
                   and got[1] == (True, ofp.OFPR_ACTION, 0, 0x44, ofp.OFPP_CONTROLLER), got)
        dp.send_msg(parser.OFPFlowMod(dp, command=ofp.OFPFC_DELETE_STRICT, priority=60,
                                      match=parser.OFPMatch(eth_type=0x88b5),
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))

        body = self.stats(dp, "desc", parser.OFPDescStatsRequest(dp))
        if body is not None:
            d = body[0]
            self.check("desc", bool(d.mfr_desc) and bool(d.sw_desc) and bool(d.hw_desc),
                       self.show(d))
        body = self.stats(dp, "table_stats", parser.OFPTableStatsRequest(dp))
        if body is not None:
            t0 = [t for t in body if t.table_id == 0]
            self.check("table_stats", len(body) >= 1 and t0 and t0[0].active_count == 2,
                       [self.show(t) for t in body[:2]])
        body = self.stats(dp, "port_stats", parser.OFPPortStatsRequest(dp, 0, ofp.OFPP_ANY))
        if body is not None:
            # Both ports and the bridge's LOCAL port, as Open vSwitch answers.
            self.check("port_stats",
                       sorted(p.port_no for p in body) == [1, 2, ofp.OFPP_LOCAL],
                       [self.show(p) for p in body])
        body = self.stats(dp, "port_desc", parser.OFPPortDescStatsRequest(dp))
        if body is not None:
            names = sorted((p.port_no, p.name.decode() if isinstance(p.name, bytes) else p.name)
                           for p in body if p.port_no < ofp.OFPP_MAX)
            self.check("port_desc", names == [(1, "p0"), (2, "p1")],
                       [(p.port_no, p.name, p.hw_addr) for p in body])
        body = self.stats(dp, "queue_stats",
                          parser.OFPQueueStatsRequest(dp, 0, ofp.OFPP_ANY, ofp.OFPQ_ALL))
        if body is not None:
            # No queues are configured: an empty (but present) reply.
            self.check("queue_stats", all(q.port_no in (1, 2) for q in body),
                       [self.show(q) for q in body])
        body = self.stats(dp, "group_stats", parser.OFPGroupStatsRequest(dp, 0, ofp.OFPG_ALL))
        if body is not None:
            self.check("group_stats", [(g.group_id, g.ref_count) for g in body] == [(1, 1)],
                       [self.show(g) for g in body])
        body = self.stats(dp, "group_desc", parser.OFPGroupDescStatsRequest(dp))
        if body is not None:
            ok = (len(body) == 1 and body[0].group_id == 1 and body[0].type == ofp.OFPGT_ALL
                  and len(body[0].buckets) == 1
                  and [a.port for a in body[0].buckets[0].actions] == [2])
            self.check("group_desc", ok, [self.show(g) for g in body])
        body = self.stats(dp, "meter_stats", parser.OFPMeterStatsRequest(dp, 0, ofp.OFPM_ALL))
        if body is not None:
            self.check("meter_stats", [m.meter_id for m in body] == [1],
                       [self.show(m) for m in body])
        body = self.stats(dp, "meter_config",
                          parser.OFPMeterConfigStatsRequest(dp, 0, ofp.OFPM_ALL))
        if body is not None:
            ok = (len(body) == 1 and body[0].meter_id == 1 and len(body[0].bands) == 1
                  and body[0].bands[0].rate == 1000
                  and body[0].flags & ofp.OFPMF_KBPS)
            self.check("meter_config", ok, [(m.meter_id, m.flags, [self.show(b) for b in m.bands])
                                            for m in body])
        body = self.stats(dp, "meter_features", parser.OFPMeterFeaturesStatsRequest(dp))
        if body is not None:
            self.check("meter_features", len(body) == 1 and body[0].max_meter > 0,
                       [self.show(m) for m in body])
        body = self.stats(dp, "table_features", parser.OFPTableFeaturesStatsRequest(dp))
        if body is not None:
            ids = [t.table_id for t in body]
            self.check("table_features", len(ids) >= 1 and ids[0] == 0
                       and ids == sorted(set(ids)), ids[:5])
