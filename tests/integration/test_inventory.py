"""The resource inventory (collector/README.md, "Inventory"): `poolwatch inventory`
import of the request table (CSV and XLSX, Chinese and English headers, UTF-8,
UTF-8 with BOM, GB18030), refusal of bad files with every problem listed,
idempotent re-import, export round trip, history and --at, pool definitions,
the audit records of changes, and GET /api/v1/inventory with tenant isolation.

Fixtures: tests/fixtures/inventory (README.md there)."""
import csv
import http.client
import io
import json
import os
import urllib.parse

from pwtest import CLI, COLLECTOR, FIXTURES, Proc, PoolwatchTest, free_port

INV = os.path.join(FIXTURES, "inventory")
GOOD = ("good_zh.csv", "good_zh_bom.csv", "good_zh_gb18030.csv", "good_en.csv", "good_zh.xlsx",
        "good_en_inline.xlsx")
EXIT_BADINPUT = 6
TYPES = "(APP, WEB, FTP, DAT, MID, TST or OTH)"
DATES = "(use 2026-10-10, 2026/10/10 or 2026年10月10日)"
# file -> the exact problem lines the import must print
BAD = {
    "bad_missing_column.csv": ["row 1: missing required column 使用单位 (unit)"],
    "bad_number.csv": ['row 3, column 内存(GB), value "八": not a number'],
    "bad_negative.csv": ['row 3, column 数据盘(GB), value "-200": must not be negative'],
    "bad_date.csv": ['row 2, column 确认开通日期, value "2026-02-30": not a date ' + DATES],
    "bad_server_type.csv": ['row 2, column 服务器类型, value "DBS": unknown server type ' + TYPES],
    "bad_duplicate.csv": ['row 4, column 虚拟机名称, value "vm1": the same VM name is in row 2'],
    "bad_terminated.csv": ['row 2, column 终止日期, value "2026-10-01": before the delivered date '
                           '2026-10-10'],
    "bad_many.csv": ['row 3, column 使用单位, value "": required',
                     'row 3, column vCPU(核), value "x": not a number',
                     'row 4, column 服务器类型, value "XYZ": unknown server type ' + TYPES,
                     'row 4, column 系统盘(GB), value "-1": must not be negative',
                     'row 4, column 确认开通日期, value "10/01/2026": not a date ' + DATES],
    "bad.xlsx": ['row 3, column vCPU(核), value "-4": must not be negative',
                 'row 5, column 服务器类型, value "GPU": unknown server type ' + TYPES],
}


class InventoryCli(PoolwatchTest):

    def imp(self, name, *extra):
        path = name if os.path.isabs(name) else os.path.join(INV, name)
        return self.cli("inventory", "import", path, *extra, check=False)

    def names_at(self, at, *extra):
        r = self.cli("inventory", "list", "--at", at, "--format", "json", *extra)
        return sorted(v["name"] for v in json.loads(r.stdout))

    def test_import_every_good_form_and_reimport_changes_nothing(self):
        os.makedirs(self.data)
        r = self.imp("good_zh.csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 rows: 3 added, 0 changed, 0 unchanged", r.stderr)
        # The same table in every other encoding, header language and format: nothing new.
        for name in GOOD:
            r = self.imp(name)
            self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))
            self.assertIn("3 rows: 0 added, 0 changed, 3 unchanged", r.stderr, name)
        for vm in ("lz-rs-web-01", "lz-rs-db-01", "lz-dsj-app-01"):
            hist = json.loads(self.cli("inventory", "history", vm, "--format", "json").stdout)
            self.assertEqual(len(hist), 1, vm)
        vms = {v["name"]: v for v in json.loads(
            self.cli("inventory", "list", "--all", "--format", "json").stdout)}
        web = vms["lz-rs-web-01"]
        self.assertEqual(web["tenant"], "柳州市人社局")
        self.assertEqual(web["uuid"], "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
        self.assertEqual((web["vcpus"], web["memory_gb"], web["data_disk_gb"]), (4, 8, 200))
        self.assertIs(web["cluster"], True)
        self.assertEqual(vms["lz-rs-db-01"]["server_type"], "DAT")
        self.assertEqual(vms["lz-rs-db-01"]["remarks"], "主库,每日备份")
        self.assertEqual(vms["lz-dsj-app-01"]["terminated"], "2026-10-20")
        # --sheet: the notes sheet holds no table; an unknown sheet names those there.
        r = self.imp("good_zh.xlsx", "--sheet", "说明")
        self.assertEqual(r.returncode, EXIT_BADINPUT, r.stderr)
        self.assertIn("no header row found", r.stderr)
        r = self.imp("good_zh.xlsx", "--sheet", "nope")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('has no sheet "nope" (it has "申请表", "说明")', r.stderr)

    def test_bad_files_are_refused_whole_with_every_problem(self):
        os.makedirs(self.data)
        for name, lines in BAD.items():
            r = self.imp(name)
            self.assertEqual(r.returncode, EXIT_BADINPUT, "%s: %s" % (name, r.stderr))
            n = len(lines)
            self.assertIn("%d problem%s, nothing imported:\n" % (n, "" if n == 1 else "s"), r.stderr)
            self.assertEqual(r.stderr.rstrip("\n").split("\n")[-n:], lines, name)
        # Encodings: GB18030 read as UTF-8 when forced; UTF-16 refused.
        r = self.imp("good_zh_gb18030.csv", "--encoding", "utf-8")
        self.assertEqual(r.returncode, EXIT_BADINPUT)
        self.assertIn("the text is not valid UTF-8 (row 1); if it is GB18030/GBK, use --encoding "
                      "gb18030", r.stderr)
        r = self.imp("bad_utf16.csv")
        self.assertEqual(r.returncode, EXIT_BADINPUT)
        self.assertIn("the file is UTF-16, which is not supported", r.stderr)
        r = self.imp("does-not-exist.csv")
        self.assertEqual(r.returncode, 1, r.stderr)
        r = self.imp("good_zh.csv", "--encoding", "latin1")
        self.assertEqual(r.returncode, 1, r.stderr)
        # Nothing was stored by any of them; each refusal is in the audit log.
        self.assertEqual(json.loads(self.cli("inventory", "list", "--all", "--format", "json").stdout), [])
        audit = json.loads(self.cli("audit", "export", "--format", "json").stdout)
        failed = [a for a in audit if a["action"] == "inventory.import" and a["result"] == "failed"]
        self.assertGreaterEqual(len(failed), len(BAD))

    def test_export_round_trip(self):
        os.makedirs(self.data)
        self.assertEqual(self.imp("good_zh.csv").returncode, 0)
        for fmt, lang in (("csv", "zh"), ("csv", "en"), ("xlsx", "zh"), ("xlsx", "en")):
            out = os.path.join(self.tmp, "export-%s.%s" % (lang, fmt))
            self.cli("inventory", "export", "--format", fmt, "--lang", lang, "-o", out)
            r = self.imp(out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("3 rows: 0 added, 0 changed, 3 unchanged", r.stderr, out)
        # To stdout: CSV, the Chinese headers.
        r = self.cli("inventory", "export")
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(rows[0][:3], ["网络区域", "使用单位", "开发商"])
        self.assertEqual(len(rows), 4)
        r = self.cli("inventory", "export", "--tenant", "柳州市大数据局", "--lang", "en")
        self.assertEqual(len(list(csv.reader(io.StringIO(r.stdout, newline="")))), 2)
        r = self.cli("inventory", "export", "--format", "xlsx", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_history_and_list_at(self):
        os.makedirs(self.data)
        self.assertEqual(self.imp("good_zh.csv").returncode, 0)
        # Delivered on the 10th, terminated on the 20th: in service on the 10th to the 19th only.
        for day, seen in ((9, False), (10, True), (15, True), (19, True), (20, False), (25, False)):
            names = self.names_at("2026-10-%02d" % day)
            self.assertEqual("lz-dsj-app-01" in names, seen, "day %d: %s" % (day, names))
        self.assertEqual(self.names_at("2026-09-30"), [])
        self.assertEqual(self.names_at("2026-10-15", "--tenant", "柳州市人社局"),
                         ["lz-rs-db-01", "lz-rs-web-01"])
        # A resize on the 15th: the old size before, the new one from then on.
        with open(os.path.join(INV, "good_zh.csv"), encoding="utf-8") as f:
            text = f.read()
        resized = os.path.join(self.tmp, "resized.csv")
        with open(resized, "w", encoding="utf-8") as f:
            f.write(text.replace("lz-rs-web-01,WEB,张三,zhangsan@example.cn,13800000001,4,8,",
                                 "lz-rs-web-01,WEB,张三,zhangsan@example.cn,13800000001,8,16,"))
        r = self.imp(resized, "--effective", "2026-10-15")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 rows: 0 added, 1 changed, 2 unchanged", r.stderr)

        def web(at):
            vms = json.loads(self.cli("inventory", "list", "--at", at, "--format", "json").stdout)
            v = [v for v in vms if v["name"] == "lz-rs-web-01"][0]
            return v["vcpus"], v["memory_gb"]
        self.assertEqual(web("2026-10-14"), (4, 8))
        self.assertEqual(web("2026-10-15"), (8, 16))
        self.assertEqual(web("2026-11-01"), (8, 16))
        hist = json.loads(self.cli("inventory", "history", "lz-rs-web-01", "--format", "json").stdout)
        self.assertEqual([(h["vcpus"], h["valid_from"]) for h in hist],
                         [(4, None), (8, "2026-10-15T00:00:00.000Z")])
        r = self.cli("inventory", "history", "nope", check=False)
        self.assertEqual(r.returncode, 1)
        # The table view and CSV work too.
        self.assertIn("lz-rs-web-01", self.cli("inventory", "list", "--at", "2026-10-15").stdout)
        rows = list(csv.reader(io.StringIO(self.cli("inventory", "list", "--at", "2026-10-15",
                                                    "--format", "csv").stdout)))
        self.assertEqual(rows[0][0], "zone")
        self.assertEqual(len(rows), 4)

    def test_pools(self):
        os.makedirs(self.data)
        self.cli("pool", "set", "pool-a", "--hosts", "node-01,node-02", "--cpu-overcommit", "3",
                 "--capacity-memory", "512GiB")
        self.cli("pool", "set", "pool-a", "--memory-overcommit", "1.2")    # keeps the rest
        self.cli("pool", "set", "pool-a", "--memory-overcommit", "1.2")    # no change, no version
        pools = json.loads(self.cli("pool", "list", "--format", "json").stdout)
        self.assertEqual(pools, [{"name": "pool-a", "hosts": ["node-01", "node-02"],
                                  "cpu_overcommit": 3.0, "memory_overcommit": 1.2,
                                  "capacity": {"cpu": 0.0, "memory": 549755813888.0,
                                               "storage": 0.0, "network": 0.0}}])
        self.cli("pool", "delete", "pool-a")
        self.assertEqual(json.loads(self.cli("pool", "list", "--format", "json").stdout), [])
        hist = json.loads(self.cli("pool", "history", "pool-a", "--format", "json").stdout)
        self.assertEqual([h["deleted"] for h in hist], [False, False, True])
        for args in (("delete", "pool-a"), ("set", "p", "--cpu-overcommit", "0"),
                     ("set", "p", "--hosts", "a,a"), ("set", "p", "--capacity-storage", "lots"),
                     ("history", "nope")):
            r = self.cli("pool", *args, check=False)
            self.assertEqual(r.returncode, 1, "%s: %s" % (args, r.stderr))
        audit = json.loads(self.cli("audit", "export", "--format", "json").stdout)
        self.assertEqual([a["action"] for a in audit if a["action"].startswith("pool.")],
                         ["pool.set", "pool.set", "pool.set", "pool.delete"])

    def test_reconcile(self):
        os.makedirs(self.data)
        self.assertEqual(self.imp("good_zh.csv").returncode, 0)
        day = lambda d: 1792454400000 + (d - 20) * 86400000     # 2026-10-d 00:00Z in ms
        web_uuid = "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
        lines = [
            # web-01 by UUID (renamed domain), seen on the 24th
            'poolwatch_vm_info{host="node-01",vm="%s",vm_name="web01-new"} 1 %d' % (web_uuid, day(24)),
            # db-01 by name, last seen on the 10th: stale by the 25th
            'poolwatch_vm_info{host="node-02",vm="11111111-2222-3333-4444-555555555555",'
            'vm_name="lz-rs-db-01"} 1 %d' % day(10),
            # app-01 was terminated on the 20th but still runs
            'poolwatch_vm_info{host="node-03",vm="22222222-2222-3333-4444-555555555555",'
            'vm_name="lz-dsj-app-01"} 1 %d' % day(24),
            # nobody's
            'poolwatch_vm_info{host="node-03",vm="33333333-2222-3333-4444-555555555555",'
            'vm_name="rogue-01"} 1 %d' % day(23),
        ]
        prom = os.path.join(self.tmp, "vms.prom")
        with open(prom, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.cli("import", prom)
        r = self.cli("inventory", "reconcile", "--at", "2026-10-25", "--format", "json")
        got = sorted((x["kind"], x["name"], x["tenant"]) for x in json.loads(r.stdout))
        self.assertEqual(got, [("stale", "lz-rs-db-01", "柳州市人社局"),
                               ("terminated", "lz-dsj-app-01", "柳州市大数据局"),
                               ("unowned", "rogue-01", "")])
        self.assertIn("1 matched", r.stderr)
        # With a 30-day window the db VM was seen: not stale.
        r = self.cli("inventory", "reconcile", "--at", "2026-10-25", "--days", "30", "--format", "csv")
        kinds = sorted(row[0] for row in csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(kinds, ["kind", "terminated", "unowned"])
        self.assertEqual(self.cli("inventory", "reconcile", "--days", "0", check=False).returncode, 1)


class InventoryHttp(PoolwatchTest):

    def setUp(self):
        super().setUp()
        os.makedirs(self.data)
        r = self.cli("inventory", "import", os.path.join(INV, "good_zh.csv"))
        self.tokens = {}
        for name, args in (("admin", ["--role", "admin"]),
                           ("rs", ["--role", "tenant", "--tenant", "柳州市人社局"]),
                           ("other", ["--role", "tenant", "--tenant", "someone-else"])):
            r = self.cli("token", "create", *args, "--name", "it-" + name)
            self.tokens[name] = r.stdout.strip()
        self.http_port = free_port()
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--self-interval", "1s",
                  "--http", "127.0.0.1:%d" % self.http_port], os.path.join(self.tmp, "collector.log"))
        self.procs.append(p)
        p.wait_log(r"HTTP API on https?://", timeout=10)

    def get(self, token, **params):
        path = "/api/v1/inventory"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def names(self, token, **params):
        st, _, body = self.get(token, **params)
        self.assertEqual(st, 200, body)
        return sorted(v["name"] for v in json.loads(body)["data"])

    def test_admin_and_tenant(self):
        self.assertEqual(self.names(self.tokens["admin"], at="2026-10-15"),
                         ["lz-dsj-app-01", "lz-rs-db-01", "lz-rs-web-01"])
        self.assertEqual(self.names(self.tokens["admin"], at="2026-10-25"),
                         ["lz-rs-db-01", "lz-rs-web-01"])
        self.assertEqual(self.names(self.tokens["admin"], at="2026-10-15", tenant="柳州市大数据局"),
                         ["lz-dsj-app-01"])
        # A tenant sees its own VMs only, whatever it asks for.
        self.assertEqual(self.names(self.tokens["rs"], at="2026-10-15"), ["lz-rs-db-01", "lz-rs-web-01"])
        self.assertEqual(self.names(self.tokens["rs"], at="2026-10-15", tenant="柳州市大数据局"), [])
        self.assertEqual(self.names(self.tokens["rs"], all="true"), ["lz-rs-db-01", "lz-rs-web-01"])
        self.assertEqual(self.names(self.tokens["other"], at="2026-10-15"), [])
        # CSV.
        st, ctype, body = self.get(self.tokens["rs"], at="2026-10-15", format="csv")
        self.assertEqual(st, 200)
        self.assertTrue(ctype.startswith("text/csv"), ctype)
        rows = list(csv.reader(io.StringIO(body, newline="")))
        self.assertEqual(rows[0][:3], ["zone", "tenant", "developer"])
        self.assertEqual(sorted(r[5] for r in rows[1:]), ["lz-rs-db-01", "lz-rs-web-01"])
        # Refusals.
        self.assertEqual(self.get(None)[0], 401)
        self.assertEqual(self.get(self.tokens["admin"], at="yesterday-ish")[0], 400)
        self.assertEqual(self.get(self.tokens["admin"], format="xml")[0], 400)
        # Later imports are seen without a restart.
        self.cli("inventory", "import", os.path.join(INV, "good_quoted.csv"))
        self.assertIn("q1", self.names(self.tokens["admin"], all="true"))
