"""Sustained underuse, zombies, oversized and undersized VMs (alert kinds underuse,
zombie, oversized, undersized) and the recommendations: synthetic hypervisor series
with past timestamps through `poolwatch import`, an inventory, a backtest of the rules
written into alerts.mdb (`alerts backtest --record`), then `poolwatch recommendations`
and GET /api/v1/recommendations with tenant scope.

Planted among busy VMs: an idle VM (since 1 August, so its underuse alert fires in
August and September and still does in October: R3), a running zombie, a VM shut off
all month, an oversized and an undersized VM. Only they are found, each with its
proposal (the target flavour for the two resizes)."""
import datetime
import http.client
import json
import os
import unittest

from pwtest import COLLECTOR, SLOW, PoolwatchTest, Proc, free_port

GIB = 1073741824
STEP = 300000
DAY = 86400000


def ms(y, m, d, h=0):
    return int(datetime.datetime(y, m, d, h, tzinfo=datetime.timezone.utc).timestamp() * 1000)


IDLE_FROM = ms(2026, 8, 1)
OTHERS_FROM = ms(2026, 9, 18)
END = ms(2026, 10, 20, 3)          # the recommendations' "now"

HEAD = "使用单位,系统名称,子系统名称,虚拟机名称,网络区域,服务器类型,vCPU(核),内存(GB),系统盘(GB),数据盘(GB),UUID,确认开通日期,终止日期\n"

# name: tenant, system, vcpus, memory GB, cpu share busy, memory share used, net bytes/s,
#       disk bytes/s, running, data from
VMS = {
    "busy-1":    ("单位甲", "业务系统", 4, 8, 0.60, 0.60, 2000.0, 5000.0, True, OTHERS_FROM),
    "busy-2":    ("单位甲", "业务系统", 16, 32, 0.55, 0.50, 9000.0, 5000.0, True, OTHERS_FROM),
    "busy-3":    ("单位丙", "数据平台", 2, 4, 0.70, 0.65, 3000.0, 5000.0, True, OTHERS_FROM),
    "zombie-1":  ("单位甲", "业务系统", 2, 4, 0.005, 0.20, 0.0, 0.0, True, OTHERS_FROM),
    "off-1":     ("单位甲", "业务系统", 2, 4, 0.0, 0.0, 0.0, 0.0, False, OTHERS_FROM),
    "idle-1":    ("单位乙", "门户网站", 4, 8, 0.05, 0.30, 30.0, 100.0, True, IDLE_FROM),
    "over-1":    ("单位丙", "数据平台", 8, 16, 0.20, 0.25, 4000.0, 5000.0, True, OTHERS_FROM),
    "under-1":   ("单位丙", "数据平台", 4, 8, 0.95, 0.50, 4000.0, 5000.0, True, OTHERS_FROM),
}


def uuid(i):
    return "dddddddd-0000-0000-0000-%012d" % (i + 1)


def write_inputs(d):
    with open(os.path.join(d, "inventory.csv"), "w", encoding="utf-8") as f:
        f.write(HEAD)
        for i, (name, v) in enumerate(sorted(VMS.items())):
            f.write(",".join([v[0], v[1], "", name, "政务外网区", "APP", str(v[2]), str(v[3]), "40", "0",
                              uuid(i), "2026-01-05", ""]) + "\n")
    with open(os.path.join(d, "data.prom"), "w") as f:
        for i, (name, v) in enumerate(sorted(VMS.items())):
            _, _, vcpus, mem, cpu, used, net, disk, running, start = v
            lab = 'host="hv1",vm="%s",vm_name="%s"' % (uuid(i), name)
            cpu_s = 0.0
            for k, ts in enumerate(range(start, END + 1, STEP)):
                sec = (ts - start) / 1000.0
                # one 5-minute step in 7 busier by a tenth, so p95 (1.1 x) differs from the average
                cpu_s += cpu * vcpus * STEP / 1000.0 * (1.1 if k % 7 == 0 else 1.0)
                if running:
                    f.write('poolwatch_vm_cpu_seconds_total{%s} %r %d\n' % (lab, cpu_s, ts))
                    f.write('poolwatch_vm_balloon_available_bytes{%s} %d %d\n' % (lab, mem * GIB, ts))
                    f.write('poolwatch_vm_balloon_unused_bytes{%s} %r %d\n' % (lab, (1 - used) * mem * GIB, ts))
                    f.write('poolwatch_vm_network_receive_bytes_total{%s,device="vnet0"} %r %d\n'
                            % (lab, net * sec, ts))
                    f.write('poolwatch_vm_disk_read_bytes_total{%s,device="vda"} %r %d\n' % (lab, disk * sec, ts))
                f.write('poolwatch_vm_state{%s} %d %d\n' % (lab, 1 if running else 5, ts))


class RecommendationsTest(PoolwatchTest):
    @classmethod
    def setUpClass(cls):
        import subprocess
        import tempfile
        from pwtest import CLI
        cls.dir = tempfile.mkdtemp(prefix="pwrec-")
        cls.data = os.path.join(cls.dir, "data")
        write_inputs(cls.dir)

        def run(*a):
            r = subprocess.run([CLI, "--data", cls.data, *a], capture_output=True, text=True, timeout=600 * SLOW)
            assert r.returncode == 0, (a, r.stderr)
            return r
        run("import", os.path.join(cls.dir, "data.prom"))
        run("inventory", "import", os.path.join(cls.dir, "inventory.csv"))
        # every day at 03:00 from 2 August: the day rules run each step (every: 1h < 1 day)
        cls.backtest = json.loads(run("alerts", "backtest", "--record", "--from", str(ms(2026, 8, 2, 3) // 1000),
                                      "--to", str(END // 1000), "--step", "1d", "--format", "json").stdout)

    @classmethod
    def tearDownClass(cls):
        import subprocess
        subprocess.run(["rm", "-rf", cls.dir])

    def setUp(self):
        super().setUp()
        self.data = type(self).data

    def rec(self, *a):
        return json.loads(self.cli("recommendations", "--at", str(END // 1000), "--format", "json", *a).stdout)

    def test_backtest_finds_only_the_planted(self):
        def who(h):
            return (h["rule"], h["labels"].get("vm", h["labels"].get("system")), h["labels"].get("state", ""))
        fired = sorted({who(h) for h in self.backtest if h["state"] == "firing"})
        self.assertEqual(fired, [("SystemUnderused", "门户网站", ""),
                                 ("VMOversized", "over-1", ""),
                                 ("VMUndersized", "under-1", ""),
                                 ("VMUnderused", "idle-1", ""),
                                 ("VMUnderused", "zombie-1", ""),
                                 ("VMZombie", "off-1", "shutoff"),
                                 ("VMZombie", "zombie-1", "running")])
        # the zombie was idle first (12 days), a zombie after 30: the idle alert then resolves
        z = {(h["state"], h["rule"]): h["time"] for h in self.backtest if h["labels"].get("vm") == "zombie-1"}
        self.assertEqual(sorted(z), [("firing", "VMUnderused"), ("firing", "VMZombie"), ("resolved", "VMUnderused")])
        self.assertLess(z[("firing", "VMUnderused")], z[("firing", "VMZombie")])
        self.assertEqual(z[("resolved", "VMUnderused")], z[("firing", "VMZombie")])
        # the idle VM fired once, after 12 idle days (1-12 August), and never flapped
        idle = [h for h in self.backtest if who(h)[:2] == ("VMUnderused", "idle-1")]
        self.assertEqual([h["state"] for h in idle], ["firing"])
        self.assertEqual(datetime.datetime.fromtimestamp(idle[0]["time"] / 1000, datetime.timezone.utc).date(),
                         datetime.date(2026, 8, 13))
        self.assertEqual(idle[0]["labels"]["tenant"], "单位乙")
        # still active in alerts.mdb (--record)
        active = json.loads(self.cli("alerts", "--format", "json").stdout)
        self.assertEqual(sorted(who(a) for a in active), [x for x in fired if x != ("VMUnderused", "zombie-1", "")])

    def test_recommendations_and_targets(self):
        r = self.rec()
        found = {v["vm"]: (v["finding"], v["action"], v.get("target")) for s in r["systems"] for v in s["vms"]}
        self.assertEqual(sorted(found), ["idle-1", "off-1", "over-1", "under-1", "zombie-1"])
        self.assertEqual(found["zombie-1"][:2], ("zombie", "reclaim"))
        self.assertEqual(found["off-1"][:2], ("shutoff", "reclaim"))
        self.assertEqual(found["idle-1"][:2], ("idle", "reclaim"))
        # 8 vCPU / 16 GB at CPU p95 22 %, memory 25 %: x 1.3 = 2.3 vCPU, 5.2 GB -> 4 / 8, a flavour in use
        self.assertEqual(found["over-1"], ("oversized", "downsize", {"vcpus": 4.0, "memory_gb": 8.0, "in_use": True}))
        # 4 vCPU / 8 GB at CPU p95 104.5 %: x 1.3 = 5.4 vCPUs -> the next flavour up that holds it, 8 / 16
        self.assertEqual(found["under-1"], ("undersized", "expand", {"vcpus": 8.0, "memory_gb": 16.0, "in_use": True}))
        over = [v for s in r["systems"] for v in s["vms"] if v["vm"] == "over-1"][0]
        self.assertEqual((over["days"], over["of_days"]), (30, 30))
        self.assertAlmostEqual(over["cpu_p95"], 0.22, delta=0.01)
        self.assertAlmostEqual(over["mem_p95"], 0.25, delta=0.01)
        self.assertEqual(over["to"], ms(2026, 10, 20))
        self.assertEqual(over["from"], ms(2026, 9, 20))
        idle = [v for s in r["systems"] for v in s["vms"] if v["vm"] == "idle-1"][0]
        self.assertEqual((idle["days"], idle["of_days"]), (14, 14))
        self.assertLess(idle["net_mb_per_day"], 5)
        systems = {(s["tenant"], s["system"]): s for s in r["systems"]}
        self.assertEqual(systems[("单位甲", "业务系统")]["action"], "reclaim")
        self.assertEqual(systems[("单位丙", "数据平台")]["action"], "mixed")
        self.assertIn("idle", systems[("单位乙", "门户网站")])
        # the earlier warnings of the idle system: from August on
        months = {m for w in systems[("单位乙", "门户网站")]["warnings"] for m in w["months"]}
        self.assertEqual(months, {"2026-08", "2026-09", "2026-10"})

    def test_r3_after_two_warned_months(self):
        tenants = {t["tenant"]: t for t in self.rec()["tenants"]}
        self.assertTrue(tenants["单位乙"]["suspend_requests"])
        self.assertEqual(tenants["单位乙"]["warned_months"], ["2026-08", "2026-09"])
        # 单位甲's zombie was first warned (idle) at the end of September: one month, no flag
        self.assertFalse(tenants["单位甲"]["suspend_requests"])
        self.assertFalse(tenants["单位丙"]["suspend_requests"])
        # a month earlier, 单位乙 had one warned month (August): not yet
        r = json.loads(self.cli("recommendations", "--at", str(ms(2026, 9, 20, 3) // 1000), "--tenant", "单位乙",
                                "--format", "json").stdout)
        t = {x["tenant"]: x for x in r["tenants"]}["单位乙"]
        self.assertEqual((t["warned_months"], t["suspend_requests"]), (["2026-08"], False))
        # the table says it too
        out = self.cli("recommendations", "--at", str(END // 1000)).stdout
        self.assertIn("R3: 单位乙: suspend further requests", out)
        self.assertIn("2026-08 2026-09", out)
        self.assertNotIn("R3: 单位甲", out)
        csv = self.cli("recommendations", "--at", str(END // 1000), "--format", "csv", "--tenant", "单位丙").stdout
        lines = csv.strip().split("\n")
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].startswith("tenant,system,vm,finding,action,days"))

    def test_api_tenant_scope(self):
        http_port = free_port()
        admin = self.cli("token", "create", "--role", "admin", "--name", "a").stdout.strip()
        tb = self.cli("token", "create", "--role", "tenant", "--tenant", "单位乙", "--name", "tb").stdout.strip()
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--http", "127.0.0.1:%d" % http_port,
                  "--capacity-interval", "0", "--alert-interval", "0"], os.path.join(self.tmp, "collector.log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)

        def get(path, token):
            c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=120 * SLOW)
            try:
                c.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = c.getresponse()
                return r.status, json.loads(r.read() or b"null")
            finally:
                c.close()

        t = "?time=%d" % (END // 1000)
        st, body = get("/api/v1/recommendations" + t, admin)
        self.assertEqual(st, 200, body)
        self.assertEqual({s["tenant"] for s in body["data"]["systems"]}, {"单位甲", "单位乙", "单位丙"})
        # a tenant sees its own systems only, whatever it asks for
        from urllib.parse import quote
        st, body = get("/api/v1/recommendations" + t + "&tenant=" + quote("单位甲"), tb)
        self.assertEqual(st, 200, body)
        self.assertEqual({s["tenant"] for s in body["data"]["systems"]}, {"单位乙"})
        self.assertEqual([x["tenant"] for x in body["data"]["tenants"]], ["单位乙"])
        st, body = get("/api/v1/recommendations" + t, "nope")
        self.assertEqual(st, 401)

    def test_api_follows_the_config_rules(self):
        """The API judges by the collector's --config alerts: as the alerts and the CLI do,
        and again after SIGHUP with a changed file."""
        import signal
        http_port = free_port()
        admin = self.cli("token", "create", "--role", "admin", "--name", "cfg").stdout.strip()
        config = os.path.join(self.tmp, "poolwatch.yaml")

        def write_config(p95):
            with open(config, "w") as f:
                f.write("alerts:\n  rules:\n    - name: VMOversized\n      p95: %s\n" % p95)

        # over-1 runs at a CPU p95 of 22 %: under the 40 % default it is oversized; under 20 % not
        write_config("0.2")
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--http", "127.0.0.1:%d" % http_port,
                  "--capacity-interval", "0", "--alert-interval", "0", "--config", config],
                 os.path.join(self.tmp, "collector.log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)

        def oversized():
            c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=120 * SLOW)
            try:
                c.request("GET", "/api/v1/recommendations?time=%d" % (END // 1000),
                          headers={"Authorization": "Bearer " + admin})
                r = c.getresponse()
                body = json.loads(r.read())
                self.assertEqual(r.status, 200, body)
            finally:
                c.close()
            found = sorted(v["vm"] for s in body["data"]["systems"] for v in s["vms"]
                           if v["finding"] == "oversized")
            return body["data"]["rules"]["oversized"]["p95"], found

        self.assertEqual(oversized(), (0.2, []))
        # the CLI with the same file agrees
        cli = json.loads(self.cli("--config", config, "recommendations", "--at", str(END // 1000),
                                  "--format", "json").stdout)
        self.assertEqual(cli["rules"]["oversized"]["p95"], 0.2)
        self.assertNotIn("over-1", [v["vm"] for s in cli["systems"] for v in s["vms"]])
        # a changed file after SIGHUP: the API follows it
        write_config("0.3")
        p.p.send_signal(signal.SIGHUP)
        p.wait_log(r"SIGHUP: alert rules reloaded", timeout=10)
        self.assertEqual(oversized(), (0.3, ["over-1"]))
        # a bad file keeps the rules in use
        with open(config, "w") as f:
            f.write("alerts:\n  rules:\n    - {name: Broken, kind: nope}\n")
        p.p.send_signal(signal.SIGHUP)
        p.wait_log(r"SIGHUP: alert rules not reloaded", timeout=10)
        self.assertEqual(oversized(), (0.3, ["over-1"]))
        self.assertEqual(p.stop(), 0)


if __name__ == "__main__":
    unittest.main()
