"""Pool capacity end to end: agents -> collector -> pool series, `poolwatch pools`
and GET /api/v1/pools.

Expected figures are worked out by hand from the fixture trees (tests/fixtures/basic:
4 CPUs, MemTotal 4000000 kB with 1000000 kB available, eth0 at 10000 Mb/s and no
other NIC with a speed; counters that never move, so 0 CPUs busy and 0 bytes/s) and
from the libvirt test-driver host (tests/fixtures/hypervisor/host.xml). The forecast
test imports 30 days of ratio history with known answers. Every wait is on a query
result or a log line.
"""
import json
import os
import re
import signal
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from pwtest import AGENT, FIXTURES, ApiCollectorTest, wait_until

BASIC = os.path.join(FIXTURES, "basic")
HV_XML = os.path.abspath(os.path.join(FIXTURES, "hypervisor", "host.xml"))
KB = 1024
FS_EXCLUDE = re.compile(r"^(tmpfs|ramfs|nfs|nfs4|cifs|smb3|smbfs|ceph|glusterfs|fuse\..*|iso9660|"
                        r"squashfs|overlay|autofs)$")


def agent_has_hypervisor():
    r = subprocess.run([AGENT, "--help"], capture_output=True, text=True, timeout=30)
    return "--hypervisor" in r.stdout + r.stderr


class PoolsTest(ApiCollectorTest):

    def start(self, *extra, interval="200ms"):
        return self.start_api_collector("--capacity-interval", interval, *extra)

    def node_agent(self, name, host):
        return self.agent("--proc-root", os.path.join(BASIC, "proc"),
                          "--sys-root", os.path.join(BASIC, "sys"), name=name, host=host)

    def pools(self, *args):
        r = self.cli("pools", "--format", "json", *args)
        return {p["pool"]: p for p in json.loads(r.stdout)["pools"]}

    def latest(self, selector):
        pts = self.points(selector)
        return pts[-1][1] if pts else None

    @staticmethod
    def res(pool, name):
        return next(r for r in pool["resources"] if r["resource"] == name)

    def get(self, path, token):
        st, _, data = self.http("GET", path, token)
        return st, data

    def storage_by_hand(self, hosts):
        """Sum over hosts of the distinct devices' sizes, local file systems only."""
        per = {}
        for s in self.query("node_filesystem_size_bytes"):
            lab = s["labels"]
            if lab.get("host") not in hosts or FS_EXCLUDE.match(lab.get("fstype", "")):
                continue
            key = (lab["host"], lab.get("device"))
            per[key] = max(per.get(key, 0), s["points"][-1][1])
        return sum(per.values())

    # ---- (a) node agents only ------------------------------------------------------

    def test_node_pools(self):
        self.write_config(
            "log-level: info\n"
            "pools:\n"
            "  - name: pa\n"
            "    hosts: [h1, h2]\n"
            "    cpu_overcommit: 2\n"
            "    memory_overcommit: 1.5\n"
            "  - name: po\n"
            "    hosts: [h1, ghost]\n"
            "    capacity: {cpu: 16, network: 125000000}\n")
        tokens = {role: self.token("--role", role, "--name", "it-" + role)
                  for role in ("admin", "operator", "auditor")}
        tokens["tenant"] = self.token("--role", "tenant", "--tenant", "a", "--name", "it-tenant")
        coll = self.start()
        coll.wait_log(r"pools: 2 pool\(s\) from", timeout=10)
        self.node_agent("a1", "h1")
        self.node_agent("a2", "h2")

        # Both hosts' memory counted: 2 x 4000000 kB.
        mem_cap = 2 * 4000000 * KB
        wait_until(lambda: self.latest('poolwatch_pool_capacity{pool="pa",resource="memory"}') == mem_cap,
                   20, "pool pa's memory capacity of both hosts")
        wait_until(lambda: self.latest('poolwatch_pool_used_ratio{pool="pa",resource="cpu"}') is not None,
                   20, "a used cpu ratio (needs two samples for the rate)")
        # Stored series, worked out by hand from the fixture.
        self.assertEqual(self.latest('poolwatch_pool_capacity{pool="pa",resource="cpu"}'), 8)
        self.assertEqual(self.latest('poolwatch_pool_capacity{pool="pa",resource="network"}'), 2 * 1.25e9)
        self.assertEqual(self.latest('poolwatch_pool_used_ratio{pool="pa",resource="memory"}'), 0.75)
        self.assertEqual(self.latest('poolwatch_pool_used_ratio{pool="pa",resource="cpu"}'), 0)
        self.assertEqual(self.latest('poolwatch_pool_allocated_ratio{pool="pa",resource="cpu"}'), 0)
        self.assertEqual(self.query('poolwatch_pool_allocated{resource="network"}'), [])
        # Memory used is above 70 %: "0 days" is a fact, stored; nothing else has a trend yet.
        # (from the second pass on: the forecast reads the ratios stored by the one before)
        days = wait_until(lambda: self.query("poolwatch_pool_days_to_threshold"), 20, "a forecast")
        self.assertIn({"kind": "used", "pool": "pa", "resource": "memory", "threshold": "0.7"},
                      [s["labels"] for s in days])
        self.assertTrue(all(s["points"][-1][1] == 0 for s in days), days)
        # No host label on pool series: they are cloud-wide.
        self.assertTrue(all("host" not in s["labels"] for s in self.query('{__name__=~"poolwatch_pool_.*"}')))

        wait_until(lambda: self.latest('poolwatch_pool_used_ratio{pool="pa",resource="network"}') is not None,
                   20, "the network p95")
        got = self.pools()
        pa, po = got["pa"], got["po"]
        self.assertEqual((pa["hosts"], pa["hosts_measured"], pa["allocation_source"], pa["vms"]),
                         (2, 2, "none", 0))
        cpu, mem, sto, net = (self.res(pa, r) for r in ("cpu", "memory", "storage", "network"))
        self.assertEqual((cpu["capacity"], cpu["overcommit"], cpu["allocated"], cpu["allocated_ratio"]),
                         (8, 2, 0, 0))
        self.assertEqual(cpu["used_ratio"], 0)
        self.assertEqual((mem["capacity"], mem["overcommit"], mem["used"], mem["used_ratio"]),
                         (mem_cap, 1.5, 2 * 3000000 * KB, 0.75))
        self.assertEqual(mem["days_to_threshold"], {"allocated": {"0.7": None, "1": None},
                                                    "used": {"0.7": 0, "1": None}})
        self.assertEqual((net["capacity"], net["allocated"], net["allocated_ratio"], net["used_ratio"]),
                         (2.5e9, None, None, 0))
        want_storage = self.storage_by_hand({"h1", "h2"})
        if want_storage > 0:
            self.assertEqual(sto["capacity"], want_storage)
            self.assertGreaterEqual(sto["used_ratio"], 0)
        # Overrides win; a host that never reported adds nothing.
        self.assertEqual((po["hosts"], po["hosts_measured"]), (2, 1))
        pcpu, pnet = self.res(po, "cpu"), self.res(po, "network")
        self.assertEqual((pcpu["capacity"], pcpu["capacity_override"]), (16, True))
        self.assertEqual((pnet["capacity"], pnet["capacity_override"]), (125000000, True))
        self.assertEqual(self.res(po, "memory")["capacity"], 4000000 * KB)

        # Table and CSV carry the same figures.
        table = self.cli("pools").stdout
        self.assertRegex(table, r"POOL\s+RESOURCE\s+CAPACITY\s+ALLOCATED\s+ALLOCATED %\s+USED %"
                                r"\s+DAYS TO 70 %\s+DAYS TO 100 %")
        self.assertRegex(table, r"pa\s+memory\s+7\.629 GiB x1\.5\s+0 B\s+0\.0 %\s+75\.0 %\s+- / 0\s+- / -")
        self.assertRegex(table, r"pa\s+network\s+20 Gbit/s\s+-\s+-\s+0\.0 %")
        csv = self.cli("pools", "--format", "csv").stdout.splitlines()
        self.assertTrue(csv[0].startswith("pool,resource,capacity,capacity_override,overcommit,allocated,"))
        self.assertIn("pa,memory,%d,false,1.5,0,0,%d,0.75,,,0,,none,2,2" % (mem_cap, 2 * 3000000 * KB), csv)

        # The API: the same numbers; cloud-wide, so never for a tenant.
        for role in ("admin", "operator", "auditor"):
            st, body = self.get("/api/v1/pools", tokens[role])
            self.assertEqual(st, 200, body)
            data = json.loads(body)["data"]
            apa = {p["pool"]: p for p in data["pools"]}["pa"]
            self.assertEqual(self.res(apa, "memory")["used_ratio"], 0.75)
            self.assertEqual(self.res(apa, "cpu")["capacity"], 8)
        st, body = self.get("/api/v1/pools", tokens["tenant"])
        self.assertEqual(st, 403, body)
        st, body = self.get("/api/v1/pools?time=nonsense", tokens["admin"])
        self.assertEqual(st, 400, body)

        # SIGHUP reads pools: again; a bad file changes nothing and is reported.
        with open(self.config, "a") as f:
            f.write("  - name: pc\n    hosts: [h2]\n")
        coll.p.send_signal(signal.SIGHUP)
        wait_until(lambda: self.latest('poolwatch_pool_capacity{pool="pc",resource="cpu"}') == 4,
                   20, "pool pc after SIGHUP")
        with open(self.config, "a") as f:
            f.write("  - name: pd\n    hosts: h3\n")
        coll.p.send_signal(signal.SIGHUP)
        coll.wait_log(r"collector.yaml:\d+: pools: hosts must be a list", timeout=10)
        coll.wait_log(r"SIGHUP: pools not reloaded", timeout=10)
        self.assertNotIn("pd", self.pools())

    # ---- forecasts from stored history ------------------------------------------------

    def test_forecast_from_history(self):
        self.write_config("pools:\n  - name: pf\n    hosts: [nowhere]\n")
        coll = self.start(interval="0")              # nothing else writes pf's ratios
        coll.wait_log(r"pools: 1 pool\(s\)", timeout=10)
        at = (int(time.time()) // 60) * 60 - 60       # seconds, on the minute, in the past
        day = 86400
        lines = []
        for k in range(30):                            # one point a day, an hour before each day's end
            ts = (at - (29 - k) * day - 3600) * 1000
            step = 0.2 if k >= 15 else 0
            lines += [
                'poolwatch_pool_allocated_ratio{pool="pf",resource="cpu"} %r %d' % (0.30 + 0.01 * k, ts),
                'poolwatch_pool_used_ratio{pool="pf",resource="cpu"} %r %d' % (0.2 + 0.005 * k + step, ts),
                'poolwatch_pool_used_ratio{pool="pf",resource="memory"} 0.5 %d' % ts,
                'poolwatch_pool_used_ratio{pool="pf",resource="network"} 1.2 %d' % ts,
            ]
            if k >= 24:                                # 6 days only: no trend
                lines.append('poolwatch_pool_used_ratio{pool="pf",resource="storage"} %r %d'
                             % (0.1 + 0.05 * (k - 24), ts))
        path = os.path.join(self.tmp, "history.prom")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.cli("import", path)
        pf = self.pools("--at", str(at))["pf"]
        cpu = self.res(pf, "cpu")["days_to_threshold"]
        self.assertAlmostEqual(cpu["allocated"]["0.7"], 11, places=6)    # (0.70 - 0.59) / 0.01
        self.assertAlmostEqual(cpu["allocated"]["1"], 41, places=6)
        # A 20 % step on day 15 leaves the trend at 0.005 / day: (0.7 - 0.545) / 0.005.
        self.assertAlmostEqual(cpu["used"]["0.7"], 31, places=6)
        self.assertAlmostEqual(cpu["used"]["1"], 91, places=6)
        self.assertEqual(self.res(pf, "memory")["days_to_threshold"]["used"], {"0.7": None, "1": None})
        self.assertEqual(self.res(pf, "storage")["days_to_threshold"]["used"], {"0.7": None, "1": None})
        self.assertEqual(self.res(pf, "network")["days_to_threshold"]["used"], {"0.7": 0, "1": 0})
        table = self.cli("pools", "--at", str(at)).stdout
        self.assertRegex(table, r"pf\s+cpu\s+-\s+0 vCPUs\s+-\s+-\s+10 / 30\s+40 / 90")

    # ---- (b) a hypervisor agent ------------------------------------------------------

    @unittest.skipUnless(os.path.exists(HV_XML) and agent_has_hypervisor(),
                         "agent without --hypervisor or no tests/fixtures/hypervisor/host.xml")
    def test_hypervisor_pool(self):
        self.write_config("pools:\n  - name: ph\n    hosts: [hv1]\n    cpu_overcommit: 4\n")
        self.start()
        self.agent("--proc-root", os.path.join(BASIC, "proc"), "--sys-root", os.path.join(BASIC, "sys"),
                   "--hypervisor", "test://" + HV_XML, name="hv", host="hv1")
        # By hand from the XML: every domain, running or not, holds its allocation.
        vcpus = mem = 0
        units = {"KiB": 1024, "k": 1024, "MiB": 1 << 20, "M": 1 << 20, "GiB": 1 << 30, "G": 1 << 30,
                 "TiB": 1 << 40, "b": 1, "bytes": 1}
        doms = ET.parse(HV_XML).getroot().findall("domain")
        for d in doms:
            vcpus += int(d.find("vcpu").text)
            m = d.find("memory")
            mem += int(m.text) * units[m.get("unit", "KiB")]
        wait_until(lambda: self.latest('poolwatch_pool_allocated{pool="ph",resource="cpu"}') == vcpus,
                   30, "pool ph's allocated vCPUs (%d)" % vcpus)
        threads = self.latest('poolwatch_host_cpu_threads{host="hv1"}')
        host_mem = self.latest('poolwatch_host_memory_bytes{host="hv1"}')
        ph = self.pools()["ph"]
        self.assertEqual((ph["allocation_source"], ph["vms"]), ("domains", len(doms)))
        cpu, m = self.res(ph, "cpu"), self.res(ph, "memory")
        self.assertEqual((cpu["capacity"], cpu["allocated"]), (threads, vcpus))
        self.assertAlmostEqual(cpu["allocated_ratio"], vcpus / (threads * 4), places=12)
        self.assertEqual((m["capacity"], m["allocated"]), (host_mem, mem))
        self.assertAlmostEqual(m["allocated_ratio"], mem / host_mem, places=12)
        sto = self.res(ph, "storage")
        pool_cap = sum(s["points"][-1][1] for s in
                       self.query('poolwatch_host_storage_pool_capacity_bytes{host="hv1"}'))
        self.assertEqual(sto["capacity"], pool_cap)


if __name__ == "__main__":
    unittest.main()
