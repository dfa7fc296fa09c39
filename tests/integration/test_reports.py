"""poolwatch report: the fixture month (tests/fixtures/reports/) with
hand-computed figures, asserted cell by cell on the CSV and on the XLSX read
back (zipfile + XML); the periods at their edges; a tenant's report.
ReportApiTest: /api/v1/reports/... (formats, headers, tenant scope, bad
parameters) and the collector's automatic monthly archive."""
import csv
import datetime
import hashlib
import http.client
import io
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile
import zoneinfo

import pwtest

sys.path.insert(0, os.path.join(pwtest.FIXTURES, "reports"))
import fixture  # noqa: E402

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def ms(y, m, d):
    return int(datetime.datetime(y, m, d, tzinfo=datetime.timezone.utc).timestamp() * 1000)


def csv_parts(text):
    """{part name: [header, rows...]} of the report CSV."""
    assert text.startswith("\ufeff"), "CSV must start with a UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(text[1:])))
    parts, cur = {}, None
    for r in rows[2:]:
        if not r or r == [""]:
            cur = None
            continue
        if cur is None:
            cur = parts.setdefault(r[0], [])
            continue
        cur.append(r)
    return parts


def xlsx_sheets(path):
    """{sheet name: {(row, col): value}} with numbers as floats, strings as str."""
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % NS["m"])))
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    out = {}
    for i, sh in enumerate(wb.find("m:sheets", NS).findall("m:sheet", NS)):
        root = ET.fromstring(z.read("xl/worksheets/sheet%d.xml" % (i + 1)))
        cells = {}
        for c in root.iter("{%s}c" % NS["m"]):
            ref, t = c.get("r"), c.get("t")
            col = 0
            k = 0
            while ref[k].isalpha():
                col = col * 26 + ord(ref[k]) - 64
                k += 1
            row = int(ref[k:])
            v = c.find("m:v", NS)
            if v is None:
                continue
            cells[(row, col)] = shared[int(v.text)] if t == "s" else float(v.text)
        pane = root.find(".//m:pane", NS)
        cells["frozen"] = pane is not None and pane.get("ySplit") == "1"
        out[sh.get("name")] = cells
    return out


class ReportTest(pwtest.PoolwatchTest):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="pwrep-")
        cls.data = os.path.join(cls.dir, "data")
        fixture.write(cls.dir, ms(2026, 10, 31) - 3600000, ms(2026, 12, 1))

        def run(*a):
            r = subprocess.run([pwtest.CLI, "--data", cls.data, *a], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (a, r.stderr)
        run("import", os.path.join(cls.dir, "data.prom"))
        run("inventory", "import", os.path.join(cls.dir, "inventory.csv"))
        run("inventory", "import", os.path.join(cls.dir, "inventory-resize.csv"), "--effective", "2026-11-16")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir])

    def setUp(self):
        super().setUp()
        self.data = type(self).data

    def report(self, *a, check=True):
        # as of a fixed time, so the figures do not depend on the machine's clock
        return self.cli("report", *a, "--as-of", "2027-01-01", check=check)

    def util_rows(self, kind, *a):
        parts = csv_parts(self.report(kind, *a, "--format", "csv").stdout)
        head, *rows = parts["资源利用情况表"]
        return {r[3]: dict(zip(head, r)) for r in rows}

    def test_month_csv_cell_by_cell(self):
        rows = self.util_rows("monthly", "--month", "2026-11")
        self.assertEqual(sorted(rows), ["vm-a", "vm-b", "vm-c", "vm-d", "vm-z"])
        # (days, share %, vCPU-days, memory GB-days, disk GB-days, cpu avg, p95, max, mem avg, p95, disk, availability, advice)
        want = {
            "vm-a": ("30", "100.00", "120.00", "240.00", "3000.00", "25.00", "25.00", "25.00", "25.00", "25.00", "50.00", "100.00", "降配（配置过高）"),
            # delivered on the 10th of a 30-day month: 21/30
            "vm-b": ("21", "70.00", "168.00", "336.00", "5040.00", "90.00", "90.00", "90.00", "93.75", "93.75", "50.00", "100.00", "扩容（配置不足）"),
            # 2 vCPUs the 1st-15th, 4 from the 16th: 15*2 + 15*4; 1 CPU busy = 50 % then 25 %
            "vm-c": ("30", "100.00", "90.00", "120.00", "1200.00", "37.50", "50.00", "50.00", "25.00", "25.00", "25.00", "100.00", "降配（配置过高）"),
            # terminated on the 20th: the 1st to the 19th
            "vm-d": ("19", "63.33", "38.00", "76.00", "760.00", "10.00", "10.00", "10.00", "90.00", "90.00", "50.00", "100.00", "扩容（配置不足）"),
            "vm-z": ("30", "100.00", "60.00", "120.00", "1200.00", "0.50", "0.50", "0.50", "12.50", "12.50", "12.50", "100.00", "回收（僵尸主机）"),
        }
        cols = ["在用天数", "计费比例 (%)", "vCPU·天", "内存GB·天", "磁盘GB·天", "CPU平均利用率 (%)", "CPU P95利用率 (%)",
                "CPU峰值利用率 (%)", "内存平均利用率 (%)", "内存P95利用率 (%)", "磁盘使用率 (%)", "可用率 (%)", "建议"]
        for vm, exp in want.items():
            self.assertEqual(tuple(rows[vm][c] for c in cols), exp, vm)
        self.assertEqual(rows["vm-c"]["vCPU(核)"], "4.00")     # the allocation on its last day
        self.assertEqual(rows["vm-a"]["网络平均吞吐(Mbit/s)"], "0.01")
        self.assertEqual(rows["vm-c"]["网络P95吞吐(Mbit/s)"], "0.80")

    def test_month_parts(self):
        parts = csv_parts(self.report("monthly", "--month", "2026-11", "--format", "csv").stdout)
        ch = parts["运行维护-资源变更"][1:]
        self.assertEqual([r[:4] for r in ch], [["2026-11-10", "开通", "单位甲", "vm-b"],
                                               ["2026-11-16", "变配", "单位乙", "vm-c"],
                                               ["2026-11-20", "终止", "单位乙", "vm-d"]])
        self.assertEqual(ch[1][4:], ["2.00", "4.00", "4.00", "4.00"])
        eff = parts["使用效率通报"][1:]
        # 单位甲: cpu (0.25*120 + 0.9*168)/288 = 62.92 %, memory (0.25*240 + 0.9375*336)/576 = 65.10 %
        self.assertEqual([r[:5] for r in eff], [["1", "单位甲", "64.01", "62.92", "65.10"],
                                                ["2", "单位乙", "44.16", "38.12", "50.20"],
                                                ["3", "单位丙", "6.50", "0.50", "12.50"]])
        adv = {r[2]: r[3:5] for r in parts["优化建议"][1:]}
        self.assertEqual(adv["vm-z"], ["僵尸主机", "回收"])
        self.assertEqual(adv["vm-b"], ["配置不足", "扩容"])

    def test_month_xlsx_cell_by_cell(self):
        out = os.path.join(self.tmp, "r.xlsx")
        self.report("monthly", "--month", "2026-11", "-o", out)
        sh = xlsx_sheets(out)
        self.assertEqual(list(sh), ["资源利用情况表", "运行维护-资源池容量", "运行维护-告警", "运行维护-主机可用性",
                                    "运行维护-资源变更", "优化建议", "使用效率通报"])
        u = sh["资源利用情况表"]
        self.assertTrue(u["frozen"])
        head = {u[(1, c)]: c for c in range(1, 26)}
        rows = {u[(r, head["虚拟机名称"])]: r for r in range(2, 7)}
        b, c = rows["vm-b"], rows["vm-c"]
        self.assertEqual(u[(b, head["在用天数"])], 21.0)
        self.assertAlmostEqual(u[(b, head["计费比例"])], 0.7, places=12)     # a real number, formatted as %
        self.assertEqual(u[(c, head["vCPU·天"])], 90.0)
        self.assertAlmostEqual(u[(c, head["CPU平均利用率"])], 0.375, places=9)
        self.assertAlmostEqual(u[(c, head["CPU P95利用率"])], 0.5, places=9)
        self.assertAlmostEqual(u[(rows["vm-d"], head["计费比例"])], 19 / 30, places=12)
        self.assertEqual(u[(b, head["使用单位"])], "单位甲")
        ch = sh["运行维护-资源变更"]
        self.assertEqual(ch[(2, 1)], float((datetime.date(2026, 11, 10) - datetime.date(1899, 12, 30)).days))

    def test_english(self):
        out = os.path.join(self.tmp, "r.xlsx")
        self.report("monthly", "--month", "2026-11", "-o", out, "--lang", "en")
        sh = xlsx_sheets(out)
        self.assertIn("Resource utilization", sh)
        self.assertEqual(sh["Resource utilization"][(1, 11)], "days in service")

    def test_february_and_edges(self):
        rows = self.util_rows("monthly", "--month", "2027-02")
        self.assertEqual(sorted(rows), ["vm-a", "vm-b", "vm-c", "vm-z"])     # vm-d ended in November
        self.assertEqual(rows["vm-a"]["在用天数"], "28")
        self.assertEqual(rows["vm-a"]["vCPU·天"], "112.00")
        self.assertEqual(rows["vm-c"]["vCPU·天"], "112.00")                   # 4 vCPUs all month

    def test_calendar_quarter(self):
        rows = self.util_rows("quarterly", "--quarter", "2026-Q4")
        # vm-c: Oct 1 - Nov 15 with 2 vCPUs (46 days), Nov 16 - Dec 31 with 4 (46 days)
        self.assertEqual(rows["vm-c"]["在用天数"], "92")
        self.assertEqual(rows["vm-c"]["vCPU·天"], "276.00")
        self.assertEqual(rows["vm-d"]["在用天数"], "50")                      # Oct 1 - Nov 19

    def test_quarter_across_year_end(self):
        # the service year's second quarter: Dec 2026 - Feb 2027, 31 + 31 + 28 days
        out = json.loads(self.report("quarterly", "--quarter", "SY2026-Q2", "--format", "json").stdout)
        self.assertEqual(out["report"]["first_day"], "2026-12-01")
        self.assertEqual(out["report"]["last_day"], "2027-02-28")
        self.assertEqual(out["report"]["days"], 90)
        rows = {r["name"]: r for r in out["utilization"]}
        self.assertEqual(rows["vm-a"]["days"], 90)
        self.assertEqual(rows["vm-a"]["vcpu_days"], 360)

    def test_service_year(self):
        out = json.loads(self.report("service-year", "--year", "2026", "--format", "json").stdout)
        self.assertEqual((out["report"]["first_day"], out["report"]["last_day"]), ("2026-09-01", "2027-08-31"))
        rows = {r["name"]: r for r in out["utilization"]}
        self.assertEqual(rows["vm-d"]["days"], 30 + 31 + 19)                 # Sep 1 - Nov 19
        self.assertEqual(rows["vm-b"]["days"], 21 + 31 + 31 + 28 + 31 + 30 + 31 + 30 + 31 + 31)
        self.assertEqual(out["report"]["resolution"], "1h")

    def test_tenant_sees_only_its_own(self):
        text = self.report("monthly", "--month", "2026-11", "--tenant", "单位乙", "--format", "csv").stdout
        for other in ("单位甲", "单位丙", "vm-a", "vm-b", "vm-z"):
            self.assertNotIn(other, text)
        self.assertEqual(sorted(csv_parts(text)["资源利用情况表"][1:], key=lambda r: r[3])[0][3], "vm-c")
        js = self.report("monthly", "--month", "2026-11", "--tenant", "单位乙", "--format", "json").stdout
        for other in ("单位甲", "单位丙", "vm-a"):
            self.assertNotIn(other, js)
        self.assertEqual(json.loads(js)["pools"], [])      # cloud-wide figures are not a unit's

    def test_same_numbers_again(self):
        a = json.loads(self.report("monthly", "--month", "2026-11", "--format", "json").stdout)
        b = json.loads(self.report("monthly", "--month", "2026-11", "--format", "json").stdout)
        del a["report"]["generated"], b["report"]["generated"]
        self.assertEqual(a, b)

    def test_html(self):
        out = os.path.join(self.tmp, "r.html")
        self.report("monthly", "--month", "2026-11", "-o", out)
        with open(out, encoding="utf-8") as f:
            html = f.read()
        self.assertIn("<html lang='zh-CN'>", html)
        self.assertIn("资源利用情况表", html)
        self.assertIn("<svg", html)
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace("http://www.w3.org/2000/svg", ""))

    def test_bad_input(self):
        r = self.report("monthly", "--month", "2026-13", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('--month "2026-13": expected YYYY-MM', r.stderr)
        r = self.report("quarterly", "--quarter", "2026-Q5", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.report("monthly", "--month", "2026-11", "--report-timezone", "Mars/Olympus", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such zone", r.stderr)
        r = self.report("monthly", "--month", "2026-11", "--format", "pdf", check=False)
        self.assertEqual(r.returncode, 1)

    def test_r3_needs_alert_history(self):
        """With alerts.mdb the report asks the recommendations for R3 flags; with no
        warnings in earlier months no unit is flagged and no unit row is added."""
        import shutil
        d = os.path.join(self.tmp, "data-alerts")
        shutil.copytree(type(self).data, d)
        self.data = d
        self.cli("alerts", "silence", "add", "pool=nothing", "--duration", "1h")    # makes alerts.mdb
        out = json.loads(self.report("monthly", "--month", "2026-11", "--format", "json").stdout)
        self.assertTrue(out["report"]["alerts_known"])
        self.assertEqual([u["suspend_requests"] for u in out["efficiency"]], ["", "", ""])
        self.assertNotIn("多次预警仍低效", [a["rule"] for a in out["suggestions"]])
        self.assertEqual({a["vm"] for a in out["suggestions"]}, {"vm-a", "vm-b", "vm-c", "vm-d", "vm-z"})
        self.assertEqual(len(out["suggestions"]), 5)

    def test_utc_zone_same_days(self):
        rows = self.util_rows("monthly", "--month", "2026-11", "--report-timezone", "UTC")
        self.assertEqual(rows["vm-b"]["在用天数"], "21")
        self.assertEqual(rows["vm-c"]["vCPU·天"], "90.00")


def prev_month(tz="Asia/Shanghai"):
    """The month before today's in the report zone, as the collector's archive job sees it."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo(tz)).date()
    first = today.replace(day=1) - datetime.timedelta(days=1)
    return first.year, first.month


def in_service(vm, y, m):
    """Is fixture VM `vm` in service some day of month y-m (resizes aside)?"""
    dl, te = vm[10], vm[11]
    first = datetime.date(y, m, 1)
    last = (first + datetime.timedelta(days=32)).replace(day=1)
    d0 = datetime.date.fromisoformat(dl)
    return d0 < last and (te == "" or datetime.date.fromisoformat(te) > first)


class ReportApiTest(pwtest.PoolwatchTest):
    """The reports over HTTP, and the archive the collector makes at start."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="pwrepapi-")
        cls.data = os.path.join(cls.dir, "data")
        y, m = prev_month()
        start = min(ms(y, m, 1), ms(2026, 10, 31)) - 3600000
        fixture.write(cls.dir, start, ms(2026, 12, 1))

        def run(*a):
            r = subprocess.run([pwtest.CLI, "--data", cls.data, *a], capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, (a, r.stderr)
            return r.stdout.strip()
        run("import", os.path.join(cls.dir, "data.prom"))
        run("inventory", "import", os.path.join(cls.dir, "inventory.csv"))
        run("inventory", "import", os.path.join(cls.dir, "inventory-resize.csv"), "--effective", "2026-11-16")
        cls.tok = {
            "admin": run("token", "create", "--role", "admin", "--name", "rep-admin"),
            "auditor": run("token", "create", "--role", "auditor", "--name", "rep-auditor"),
            "yi": run("token", "create", "--role", "tenant", "--tenant", "单位乙", "--name", "rep-yi"),
            "jia": run("token", "create", "--role", "tenant", "--tenant", "单位甲", "--name", "rep-jia"),
        }
        # what an archive interrupted by a crash leaves: removed at start
        cls.stale = os.path.join(cls.data, "reports", ".tmp-1999-01-99999")
        os.makedirs(cls.stale)
        with open(os.path.join(cls.stale, "half.xlsx"), "w") as f:
            f.write("half")
        # an archived month whose file was changed afterwards
        bad = os.path.join(cls.data, "reports", "2000-01")
        os.makedirs(bad)
        with open(os.path.join(bad, "poolwatch-monthly-2000-01.csv"), "w") as f:
            f.write("changed")
        with open(os.path.join(bad, "SHA256SUMS"), "w") as f:
            f.write("%s  poolwatch-monthly-2000-01.csv\n" % hashlib.sha256(b"original").hexdigest())
        cls.month = "%04d-%02d" % (y, m)
        cls.y, cls.m = y, m
        cls.archive = os.path.join(cls.data, "reports", cls.month)
        cls.port, cls.http_port = pwtest.free_port(), pwtest.free_port()
        cls.logs = []
        cls.coll = cls.start_collector("collector1")
        cls.coll.wait_log(r"reports: archived %s in " % cls.month, timeout=120 * pwtest.SLOW)

    @classmethod
    def start_collector(cls, name):
        log = os.path.join(cls.dir, name + ".log")
        p = pwtest.Proc([pwtest.COLLECTOR, "--listen", "tcp://127.0.0.1:%d" % cls.port, "--data", cls.data,
                         "--http", "127.0.0.1:%d" % cls.http_port, "--alert-interval", "0",
                         "--capacity-interval", "0"], log)
        cls.logs.append(p)
        p.wait_log(r"listening on", timeout=10 * pwtest.SLOW)
        return p

    @classmethod
    def tearDownClass(cls):
        for p in cls.logs:
            if p.p.poll() is None:
                p.stop()
            p.log.close()
            text = p.text()
            assert not pwtest.SANITIZER_RX.search(text), text[-4000:]
        subprocess.run(["rm", "-rf", cls.dir])

    def setUp(self):
        super().setUp()
        self.data = type(self).data

    def req(self, path, token="admin", **params):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=120 * pwtest.SLOW)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + self.tok[token]} if token else {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def nov(self, fmt, token="admin", **kw):
        return self.req("/api/v1/reports/monthly", token, month="2026-11", format=fmt, as_of="2027-01-01T00:00:00Z",
                        **kw)

    def test_json_is_the_cli_report(self):
        st, h, body = self.nov("json")
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertNotIn("content-disposition", h)
        got = json.loads(body)
        self.assertEqual(got["status"], "success")
        cli = json.loads(self.cli("report", "monthly", "--month", "2026-11", "--as-of", "2027-01-01",
                                  "--format", "json").stdout)
        for x in (got["data"], cli):
            del x["report"]["generated"]
        self.assertEqual(got["data"], cli)
        rows = {r["name"]: r for r in got["data"]["utilization"]}
        self.assertEqual(rows["vm-b"]["days"], 21)

    def test_formats_and_headers(self):
        st, h, body = self.nov("csv")
        self.assertEqual(st, 200, body)
        self.assertEqual(h["content-type"], "text/csv; charset=utf-8")
        self.assertEqual(h["content-disposition"],
                         'attachment; filename="poolwatch-monthly-2026-11.csv"; '
                         "filename*=UTF-8''poolwatch-monthly-2026-11.csv")
        rows = {r[3]: r for r in csv_parts(body.decode("utf-8"))["资源利用情况表"][1:]}
        self.assertEqual(rows["vm-c"][10:14], ["30", "100.00", "90.00", "120.00"])
        st, h, body = self.nov("xlsx")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        self.assertIn('filename="poolwatch-monthly-2026-11.xlsx"', h["content-disposition"])
        path = os.path.join(self.tmp, "api.xlsx")
        with open(path, "wb") as f:
            f.write(body)
        self.assertEqual(xlsx_sheets(path)["资源利用情况表"][(1, 1)], "使用单位")
        st, h, body = self.nov("html", lang="en")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertIn(b"<html lang='en'>", body)
        # a unit's name in the file name: ASCII stand-in and the UTF-8 form
        st, h, body = self.nov("csv", tenant="单位乙")
        self.assertEqual(st, 200)
        q = urllib.parse.quote("poolwatch-monthly-2026-11-单位乙.csv", safe="")
        self.assertEqual(h["content-disposition"],
                         'attachment; filename="poolwatch-monthly-2026-11-_________.csv"; '
                         "filename*=UTF-8''" + q)
        # bytes a path or header cannot hold are escaped one-to-one ("a/b" and "a_b" stay apart)
        for t, slug in (("a/b", "a%2Fb"), ("a_b", "a_b"), ('x"%~', "x%22%25%7E")):
            st, h, _ = self.nov("csv", tenant=t)
            self.assertEqual(st, 200)
            self.assertIn('filename="poolwatch-monthly-2026-11-%s.csv"' % slug, h["content-disposition"])
        long = "长" * 100
        st, h, _ = self.nov("csv", tenant=long)
        name = urllib.parse.unquote(h["content-disposition"].split("UTF-8''")[1])
        self.assertRegex(name, r"^poolwatch-monthly-2026-11-(长){40}~[0-9A-F]{16}\.csv$")

    def test_other_periods(self):
        for kind, param, val in (("quarterly", "quarter", "SY2026-Q2"), ("annual", "year", "2026"),
                                 ("service-year", "year", "2026")):
            st, _, body = self.req("/api/v1/reports/" + kind, **{param: val, "as_of": "2027-09-01T00:00:00Z"})
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body)["data"]["report"]["kind"], kind)
        st, _, body = self.req("/api/v1/reports/quarterly", quarter="SY2026-Q2")
        self.assertEqual(json.loads(body)["data"]["report"]["days"], 90)

    def test_tenant_scope(self):
        # a tenant's token: its own unit's report, with or without naming it
        for kw in ({}, {"tenant": "单位乙"}):
            st, _, body = self.nov("json", token="yi", **kw)
            self.assertEqual(st, 200, body)
            rep = json.loads(body)["data"]
            self.assertEqual(rep["report"]["tenant"], "单位乙")
            self.assertEqual(sorted(r["name"] for r in rep["utilization"]), ["vm-c", "vm-d"])
            for other in ("单位甲", "单位丙", "vm-a", "vm-z"):
                self.assertNotIn(other, body.decode())
        # another unit's, or one that does not exist: 403 alike
        for t in ("单位甲", "no such unit"):
            st, _, body = self.nov("csv", token="yi", tenant=t)
            self.assertEqual(st, 403, body)
            self.assertEqual(json.loads(body)["errorType"], "forbidden")
        # the auditor sees any unit
        st, _, body = self.nov("json", token="auditor", tenant="单位甲")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["data"]["report"]["tenant"], "单位甲")

    def test_bad_parameters(self):
        cases = [
            ("/api/v1/reports/monthly", {}, r'"month" is required'),
            ("/api/v1/reports/monthly", {"month": "2026-13"}, r'invalid parameter "month"'),
            ("/api/v1/reports/monthly", {"month": "2026-11", "year": "2026"}, r'"year" does not apply'),
            ("/api/v1/reports/quarterly", {"quarter": "2026-Q5"}, r'invalid parameter "quarter"'),
            ("/api/v1/reports/annual", {"year": "1800"}, r'invalid parameter "year"'),
            ("/api/v1/reports/monthly", {"month": "2026-11", "format": "pdf"}, r'"format"'),
            ("/api/v1/reports/monthly", {"month": "2026-11", "lang": "fr"}, r'"lang"'),
            ("/api/v1/reports/monthly", {"month": "2026-11", "as_of": "soon"}, r'"as_of"'),
            ("/api/v1/reports/monthly", {"month": "2026-11", "tenant": ""}, r'"tenant"'),
        ]
        for path, params, rx in cases:
            st, h, body = self.req(path, **params)
            self.assertEqual(st, 400, (path, params, body))
            err = json.loads(body)
            self.assertEqual(err["errorType"], "bad_data")
            self.assertRegex(err["error"], rx)
        st, _, _ = self.req("/api/v1/reports/weekly", month="2026-11")
        self.assertEqual(st, 404)
        st, _, _ = self.req("/api/v1/reports/monthly", token=None, month="2026-11")
        self.assertEqual(st, 401)

    # ---- the archive -----------------------------------------------------------

    def tenants_of_month(self):
        return sorted({v[1] for v in fixture.VMS if in_service(v, self.y, self.m)})

    def test_archive_made_at_start(self):
        self.assertFalse(os.path.exists(self.stale), "an interrupted archive is removed at start")
        names = sorted(os.listdir(self.archive))
        want = ["poolwatch-monthly-%s.%s" % (self.month, e) for e in ("csv", "html", "json", "xlsx")]
        for t in self.tenants_of_month():
            want += ["poolwatch-monthly-%s-%s.%s" % (self.month, t, e) for e in ("csv", "html", "json", "xlsx")]
        self.assertEqual(names, sorted(want + ["SHA256SUMS"]))
        # SHA256SUMS is sha256sum's own format, and right
        r = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=self.archive, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for n in names:
            self.assertEqual(os.stat(os.path.join(self.archive, n)).st_mode & 0o777, 0o444, n)
        js = json.load(open(os.path.join(self.archive, "poolwatch-monthly-%s.json" % self.month), encoding="utf-8"))
        self.assertEqual(js["report"]["period"], self.month)
        self.assertEqual(sorted(r["name"] for r in js["utilization"]),
                         sorted(v[0] for v in fixture.VMS if in_service(v, self.y, self.m)))
        st, _, body = self.req("/metrics")
        self.assertRegex(body.decode(), r"(?m)^poolwatch_collector_reports_archived_total 1$")
        self.assertRegex(body.decode(), r"(?m)^poolwatch_collector_report_errors_total 0$")

    def test_archive_list_and_download(self):
        st, _, body = self.req("/api/v1/reports")
        self.assertEqual(st, 200, body)
        files = json.loads(body)["data"]
        mine = {f["file"]: f for f in files if f["month"] == self.month}
        sums = dict(reversed(l.split("  ")) for l in open(os.path.join(self.archive, "SHA256SUMS"),
                                                          encoding="utf-8").read().splitlines())
        self.assertEqual({k: v["sha256"] for k, v in mine.items()}, sums)
        self.assertTrue(all(f["intact"] for f in mine.values()))
        cloud = "poolwatch-monthly-%s.xlsx" % self.month
        st, h, body = self.req(mine[cloud]["url"])
        self.assertEqual(st, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), sums[cloud])
        self.assertEqual(len(body), mine[cloud]["size"])
        self.assertIn('filename="%s"' % cloud, h["content-disposition"])
        self.assertTrue(h["content-type"].startswith("application/vnd.openxmlformats"))
        # a changed file: listed as not intact, refused for download
        bad = [f for f in files if f["month"] == "2000-01"]
        self.assertEqual([(f["file"], f["intact"]) for f in bad], [("poolwatch-monthly-2000-01.csv", False)])
        st, _, body = self.req("/api/v1/reports/archive/2000-01/poolwatch-monthly-2000-01.csv")
        self.assertEqual(st, 500, body)
        self.assertIn("SHA-256", json.loads(body)["error"])
        for path in ("/api/v1/reports/archive/%s/nope.xlsx" % self.month,
                     "/api/v1/reports/archive/%s/SHA256SUMS" % self.month,
                     "/api/v1/reports/archive/..%2f..%2fsecurity/x",
                     "/api/v1/reports/archive/%s" % self.month):
            st, _, body = self.req(path)
            self.assertEqual(st, 404, (path, body))

    def test_archive_tenant_scope(self):
        if "单位乙" not in self.tenants_of_month():
            self.skipTest("单位乙 has no VM in service in %s" % self.month)
        st, _, body = self.req("/api/v1/reports", token="yi")
        self.assertEqual(st, 200)
        listed = [f["file"] for f in json.loads(body)["data"]]
        self.assertEqual(sorted(listed), sorted("poolwatch-monthly-%s-单位乙.%s" % (self.month, e)
                                                for e in ("csv", "html", "json", "xlsx")))
        st, _, body = self.req("/api/v1/reports", token="yi", tenant="单位甲")
        self.assertEqual(st, 403)
        own = "/api/v1/reports/archive/%s/%s" % (self.month, urllib.parse.quote(
            "poolwatch-monthly-%s-单位乙.json" % self.month))
        st, _, body = self.req(own, token="yi")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["report"]["tenant"], "单位乙")
        # the whole cloud's, another unit's, or a name that is nobody's: 403 alike
        for f in ("poolwatch-monthly-%s.json" % self.month, "poolwatch-monthly-%s-单位甲.json" % self.month,
                  "poolwatch-monthly-%s-单位乙.json.bak" % self.month, "SHA256SUMS"):
            st, _, body = self.req("/api/v1/reports/archive/%s/%s" % (self.month, urllib.parse.quote(f)),
                                   token="yi")
            self.assertEqual(st, 403, (f, body))

    def test_zz_second_start_leaves_it(self):
        before = {n: (os.stat(os.path.join(self.archive, n)).st_ino, os.stat(os.path.join(self.archive, n)).st_mtime_ns)
                  for n in os.listdir(self.archive)}
        type(self).coll.stop()
        coll = type(self).start_collector("collector2")
        type(self).coll = coll
        coll.wait_log(r"reports: %s is archived already" % self.month, timeout=30 * pwtest.SLOW)
        after = {n: (os.stat(os.path.join(self.archive, n)).st_ino, os.stat(os.path.join(self.archive, n)).st_mtime_ns)
                 for n in os.listdir(self.archive)}
        self.assertEqual(before, after)
        st, _, body = self.req("/metrics")
        self.assertRegex(body.decode(), r"(?m)^poolwatch_collector_reports_archived_total 0$")
        self.assertNotRegex(coll.text(), r"reports: archived")

    def test_no_vms_nothing_archived(self):
        empty = os.path.join(self.tmp, "empty")
        p = pwtest.Proc([pwtest.COLLECTOR, "--listen", "tcp://127.0.0.1:%d" % pwtest.free_port(), "--data", empty,
                         "--http", "off", "--alert-interval", "0"], os.path.join(self.tmp, "empty.log"))
        self.procs.append(p)
        p.wait_log(r"reports: no VM in service in %s: nothing to archive" % self.month, timeout=30 * pwtest.SLOW)
        p.stop()
        self.assertFalse(os.path.exists(os.path.join(empty, "reports", self.month)))

    def test_archive_day_option(self):
        r = subprocess.run([pwtest.COLLECTOR, "--data", self.tmp, "--report-archive-day", "29"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--report-archive-day 1..28", r.stderr)
        r = subprocess.run([pwtest.COLLECTOR, "--data", self.tmp, "--report-timezone", "Mars/Olympus"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such zone", r.stderr)


if __name__ == "__main__":
    unittest.main()
