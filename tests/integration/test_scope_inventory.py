"""Tenant ownership of VM series through the inventory (collector/README.md,
"Tenant scope"; collector/scope.h, "Ownership hook"), and GET /api/v1/whoami.

Hypervisor-side series (poolwatch_vm_*, labelled vm=<UUID>, vm_name, host,
no tenant) are imported with `poolwatch import`; the inventory gives some VMs
to tenant a and some to b. A tenant token must see, through query_range,
series, labels and label values, exactly its own VMs' series: by UUID when
the inventory has one, by name when it has none, never another tenant's VM
nor a host series. Inventory changes are seen by the next request."""
import json
import os
import subprocess
import time
import urllib.parse

from pwtest import CLI, SLOW
from test_http import HttpBase

U_AWEB = "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
U_AOLD = "22222222-2222-3333-4444-555555555555"
U_BAPP = "44444444-2222-3333-4444-555555555555"
U_MOVE = "55555555-2222-3333-4444-555555555555"
U_ADB = "a0a0a0a0-2222-3333-4444-555555555555"     # a-db's domain: the inventory has no UUID for it
U_BNOID = "b0b0b0b0-2222-3333-4444-555555555555"
U_ROGUE = "99999999-2222-3333-4444-555555555555"

# The inventory: name -> (tenant, UUID or "", terminated).
INVENTORY = [
    ("a", "a-web", U_AWEB.upper(), ""),           # any case: the UUID is the key
    ("a", "a-db", "", ""),                        # no UUID: matched by vm_name
    ("a", "a-old", U_AOLD, "2026-10-10"),         # terminated: still a's history
    ("b", "b-app", U_BAPP, ""),
    ("b", "b-noid", "", ""),
    ("a", "m-moved", U_MOVE, ""),                 # moved to b by a later import
]
# What each tenant must see of the VM series: (vm, vm_name) pairs.
A_VMS = {(U_AWEB, "a-web"), (U_AWEB, "a-web-renamed"), (U_ADB, "a-db"), (U_AOLD, "a-old")}
B_VMS = {(U_BAPP, "b-app"), (U_BAPP, "a-db"), (U_BNOID, "b-noid"), (U_MOVE, "m-moved")}


class ScopeInventory(HttpBase):

    def seed(self):
        t = self.t0
        domains = [
            ("hv1", U_AWEB, "a-web"), ("hv2", U_AWEB, "a-web-renamed"),  # renamed in libvirt
            ("hv1", U_ADB, "a-db"), ("hv2", U_AOLD, "a-old"),
            ("hv1", U_BAPP, "b-app"),
            # b's UUID under a name a owns without UUID: the UUID wins, it is b's
            ("hv3", U_BAPP, "a-db"),
            ("hv3", U_BNOID, "b-noid"), ("hv3", U_MOVE, "m-moved"),
            ("hv3", U_ROGUE, "rogue"),                                  # nobody's
            # a's VM name under an unknown UUID: a-web has a UUID, so this is not a-web
            ("hv3", U_ROGUE.replace("9", "8"), "a-web"),
        ]
        lines = []
        for i in range(31):
            ts = (t + 60 * i) * 1000
            for host, uuid, name in domains:
                lines.append('poolwatch_vm_vcpus{host="%s",vm="%s",vm_name="%s"} 2 %d'
                             % (host, uuid, name, ts))
                lines.append('poolwatch_vm_info{host="%s",vm="%s",vm_name="%s",title="t-%s"} 1 %d'
                             % (host, uuid, name, name, ts))
            for host in ("hv1", "hv2", "hv3"):
                lines.append('poolwatch_host_memory_bytes{host="%s"} 1e11 %d' % (host, ts))
                lines.append('poolwatch_host_nic_speed_bytes{host="%s",device="eno1"} 1.25e9 %d'
                             % (host, ts))
                lines.append('node_load1{host="%s"} 3 %d' % (host, ts))
            lines.append('up{tenant="a",host="guest-a"} 1 %d' % ts)
            lines.append('up{tenant="b",host="guest-b",only_b="x"} 1 %d' % ts)
        path = os.path.join(self.tmp, "vms.prom")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.run_cli("import", path)
        self.inventory(INVENTORY)
        self.inventory([("b", "m-moved", U_MOVE, "")])

    def run_cli(self, *args):
        r = subprocess.run([CLI, "--data", self.data, *args], capture_output=True, text=True,
                           timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def inventory(self, rows):
        path = os.path.join(self.tmp, "inv.csv")
        with open(path, "w") as f:
            f.write("unit,VM name,UUID,delivered,terminated\n")
            for tenant, name, uuid, term in rows:
                f.write("%s,%s,%s,2026-10-01,%s\n" % (tenant, name, uuid, term))
        self.run_cli("inventory", "import", path)

    # ---- what a token sees -----------------------------------------------------

    def range_series(self, tok, q):
        d = self.api("/api/v1/query_range", tok, params={
            "query": q, "start": str(self.t0), "end": str(self.t0 + 1800), "step": "60"})["data"]
        self.assertEqual(d["resultType"], "matrix")
        return [s["metric"] for s in d["result"]]

    def series(self, tok, match='{__name__=~".+"}'):
        return self.api("/api/v1/series", tok, params={"match[]": match})["data"]

    def labels(self, tok):
        return set(self.api("/api/v1/labels", tok)["data"])

    def values(self, tok, name):
        return self.api("/api/v1/label/%s/values" % urllib.parse.quote(name), tok)["data"]

    @staticmethod
    def vms(metrics):
        return {(m["vm"], m["vm_name"]) for m in metrics if "vm" in m}

    def check_tenant(self, tok, own, others, own_tenant):
        names = sorted({n for _, n in own})
        # query_range: every VM series of its own, nothing else but its tenant-labelled ones.
        ms = self.range_series(tok, '{__name__=~"poolwatch_.*|node_.*"}')
        self.assertEqual(self.vms(ms), own)
        self.assertTrue(all("vm" in m for m in ms), [m for m in ms if "vm" not in m])
        self.assertEqual(len(ms), 2 * len(own))            # vcpus and info per domain
        ms = self.range_series(tok, 'sum by (vm_name) (poolwatch_vm_vcpus)')
        self.assertEqual(sorted(m["vm_name"] for m in ms), sorted(n for _, n in own))
        ms = self.range_series(tok, 'count(poolwatch_host_memory_bytes)')
        self.assertEqual(ms, [])
        # /series: the same set, plus its own tenant-labelled series.
        ss = self.series(tok)
        self.assertEqual(self.vms(ss), own)
        self.assertEqual(sorted((s["__name__"], s["host"]) for s in ss if "vm" not in s),
                         [("up", "guest-" + own_tenant)])
        self.assertFalse(self.vms(ss) & others)
        # /labels: no label only others' series or host series carry.
        lb = self.labels(tok)
        self.assertTrue({"vm", "vm_name", "host", "title", "__name__", "tenant"} <= lb, lb)
        self.assertNotIn("device", lb)                     # host NIC series
        self.assertEqual("only_b" in lb, own_tenant == "b")
        # /label/<name>/values
        self.assertEqual(self.values(tok, "vm_name"), names)
        self.assertEqual(self.values(tok, "vm"), sorted({u for u, _ in own}))
        self.assertEqual(self.values(tok, "title"), sorted("t-" + n for n in names))
        self.assertNotIn("rogue", json.dumps(self.values(tok, "vm_name")))

    def test_tenants_see_their_vms_only(self):
        self.check_tenant(self.tokens["tenant"], A_VMS, B_VMS, "a")
        self.check_tenant(self.tokens["tenant_b"], B_VMS, A_VMS, "b")
        # A tenant the inventory does not know sees no VM (and no host).
        self.assertEqual(self.values(self.tokens["tenant_c"], "vm_name"), [])
        self.assertEqual(self.values(self.tokens["tenant_c"], "host"), [])
        # Admin sees every series, hosts and the unowned domains included.
        names = self.values(self.tokens["admin"], "vm_name")
        self.assertTrue({"rogue", "a-web", "b-app", "m-moved"} <= set(names), names)
        self.assertIn("device", self.labels(self.tokens["admin"]))
        # An instant query goes through the same source.
        d = self.api("/api/v1/query", self.tokens["tenant"], params={
            "query": "count(poolwatch_vm_info)", "time": str(self.t0 + 1800)})["data"]
        self.assertEqual(d["result"][0]["value"][1], str(len(A_VMS)))

    def test_inventory_change_is_seen_by_the_next_request(self):
        tok_a, tok_b = self.tokens["tenant"], self.tokens["tenant_b"]
        self.assertIn("a-db", self.values(tok_a, "vm_name"))
        # a-db goes to b (same name, no UUID): a loses it at once, b gains it.
        self.inventory([("b", "a-db", "", "")])
        self.assertNotIn((U_ADB, "a-db"), self.vms(self.series(tok_a)))
        self.assertIn((U_ADB, "a-db"), self.vms(self.series(tok_b)))
        # Now the inventory learns a-db's UUID: the name no longer matters.
        self.inventory([("b", "a-db", U_AWEB.replace("6f", "7f"), "")])
        self.assertNotIn((U_ADB, "a-db"), self.vms(self.series(tok_b)))

    def test_whoami(self):
        me = self.api("/api/v1/whoami", self.tokens["tenant"])["data"]
        self.assertEqual((me["role"], me["tenant"], me["name"], me["scope"]),
                         ("tenant", "a", "it-tenant", "tenant"))
        self.assertRegex(me["token_id"], r"^[0-9a-f]{12}$")
        self.assertTrue(self.tokens["tenant"].startswith("pwt_" + me["token_id"] + "_"))
        self.assertEqual(me["actions"], ["read_metrics", "read_inventory", "read_alerts",
                                         "read_reports", "whoami", "read_recommendations"])
        me = self.api("/api/v1/whoami", self.tokens["admin"])["data"]
        self.assertEqual((me["role"], me["tenant"], me["scope"]), ("admin", None, "all"))
        self.assertIn("admin_tokens", me["actions"])
        me = self.api("/api/v1/whoami", self.tokens["auditor"])["data"]
        self.assertIn("read_audit", me["actions"])
        self.assertNotIn("write_inventory", me["actions"])
        me = self.api("/api/v1/whoami", self.tokens["operator"])["data"]
        self.assertIn("read_hosts", me["actions"])
        self.assertNotIn("read_audit", me["actions"])
        # No token, a bad one: 401 like every call; the call is audited.
        self.api("/api/v1/whoami", None, expect=401, src=self.fresh_source())
        recs = [r for r in self.audit() if r["action"] == "GET /api/v1/whoami"]
        self.assertIn(("it-tenant", "ok"), {(r["principal"], r["result"]) for r in recs})
