"""The collector's HTTP API (collector/README.md, "HTTP API"): every endpoint
against every role, tenant isolation against selectors that try to widen
themselves, Prometheus' response shapes as Grafana reads them, the audit log,
the failed-authentication limit, bad and hostile requests, HTTPS and --http off.

Tokens come from `poolwatch token create`; data from `poolwatch import`.
Requests that must fail authentication come from their own loopback source
address (127.0.x.y), so the per-address limit on failed authentications does
not turn later 401s into 429s - except in the test of that limit."""
import http.client
import json
import math
import os
import re
import shutil
import socket
import ssl
import sys
import subprocess
import textwrap
import threading
import time
import unittest
import urllib.parse

from pwtest import CLI, COLLECTOR, SLOW, PoolwatchTest, Proc, free_port, wait_until

ROLES = ("admin", "operator", "auditor", "tenant")


class HttpBase(PoolwatchTest):
    """Seeds a data directory, makes one token per role, starts a collector with --http."""

    start_collector = True

    def setUp(self):
        super().setUp()
        self.http_port = free_port()
        self.t0 = (int(time.time()) // 60) * 60 - 3600      # an hour ago, on the minute
        self.seed()
        self.tokens = {}
        for role in ROLES:
            args = ["--role", role, "--name", "it-" + role]
            if role == "tenant":
                args += ["--tenant", "a"]
            self.tokens[role] = self.token(*args)
        self.tokens["tenant_b"] = self.token("--role", "tenant", "--tenant", "b", "--name", "it-b")
        self.tokens["tenant_c"] = self.token("--role", "tenant", "--tenant", "c", "--name", "it-c")
        self.tokens["tenant_re"] = self.token("--role", "tenant", "--tenant", ".*", "--name", "it-re")
        self.src_next = 1
        if self.start_collector:
            self.coll = self.http_collector()

    # ---- fixtures -------------------------------------------------------------

    def seed(self):
        t = self.t0
        lines = []
        for i in range(31):                                  # every minute for 30 minutes
            ts = (t + 60 * i) * 1000
            lines += [
                'up{tenant="a",host="a1",job="node"} 1 %d' % ts,
                'up{tenant="a",host="a2",job="node"} 1 %d' % ts,
                'node_load1{tenant="a",host="a1"} %s %d' % (i / 10, ts),
                'up{tenant="b",host="b1",job="node"} 0 %d' % ts,
                'secret_b{tenant="b",owner="bureau-b",host="b1"} 42 %d' % ts,
                'node_load1{host="shared"} 7 %d' % ts,
                'c1{x="1"} %d %d' % (i, ts),
                'c2{x="1"} %d %d' % (2 * i, ts),
                'odd{tenant="a",kind="nan"} NaN %d' % ts,
                'odd{tenant="a",kind="inf"} +Inf %d' % ts,
            ]
        path = os.path.join(self.tmp, "seed.prom")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([CLI, "--data", self.data, "import", path], capture_output=True,
                           text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)

    def token(self, *args):
        r = subprocess.run([CLI, "--data", self.data, "token", "create", *args],
                           capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        tok = r.stdout.strip()
        self.assertTrue(tok.startswith("pwt_"), r.stdout)
        return tok

    def http_collector(self, *extra, addr=None, name="collector"):
        addr = addr or "127.0.0.1:%d" % self.http_port
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--self-interval", "1s",
                  "--http", addr, *extra], os.path.join(self.tmp, name + ".log"))
        self.procs.append(p)
        p.wait_log(r"HTTP API on https?://", timeout=10)
        p.wait_log(r"listening on", timeout=10)
        return p

    def fresh_source(self):
        """A loopback address no request came from yet: its own failed-auth bucket."""
        n = self.src_next
        self.src_next += 1
        return "127.0.%d.%d" % (1 + n // 250, 1 + n % 250)

    # ---- requests ---------------------------------------------------------------

    def request(self, method, path, token=None, params=None, form=None, body=None, headers=None,
                src="127.0.0.1", port=None, host="127.0.0.1"):
        """(status, headers dict (lower-case names), body bytes)."""
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        c = http.client.HTTPConnection(host, port or self.http_port, timeout=30 * SLOW,
                                       source_address=(src, 0))
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api(self, path, token, params=None, form=None, method=None, expect=200, src="127.0.0.1"):
        """JSON of a call that must answer `expect`."""
        st, hdrs, body = self.request(method or ("POST" if form is not None else "GET"), path,
                                      token=token, params=params, form=form, src=src)
        self.assertEqual(st, expect, "%s %s -> %d %s" % (path, params or form, st, body[:500]))
        if path != "/metrics":
            self.assertTrue(hdrs.get("content-type", "").startswith("application/json"), hdrs)
            return json.loads(body)
        return body.decode()

    def audit(self, **params):
        params.setdefault("limit", "10000")
        params.setdefault("from", str(int(time.time()) - 3600))
        return self.api("/api/v1/audit", self.tokens["admin"], params=params)["data"]["records"]


# Every endpoint: method, path, parameters, and which roles may call it.
READ = {"admin", "operator", "auditor", "tenant"}
ENDPOINTS = [
    ("GET", "/api/v1/query", {"query": "up"}, READ),
    ("POST", "/api/v1/query", {"query": "up"}, READ),
    ("GET", "/api/v1/query_range", {"query": "up", "start": "0", "end": "600", "step": "60"}, READ),
    ("POST", "/api/v1/query_range", {"query": "up", "start": "0", "end": "600", "step": "60"}, READ),
    ("GET", "/api/v1/series", {"match[]": "up"}, READ),
    ("POST", "/api/v1/series", {"match[]": "up"}, READ),
    ("GET", "/api/v1/labels", {}, READ),
    ("POST", "/api/v1/labels", {}, READ),
    ("GET", "/api/v1/label/host/values", {}, READ),
    ("GET", "/api/v1/metadata", {}, READ),
    ("GET", "/api/v1/hosts", {}, {"admin", "operator", "auditor"}),
    ("GET", "/api/v1/audit", {}, {"admin", "auditor"}),
    ("GET", "/api/v1/inventory", {}, READ),
    ("GET", "/api/v1/pools", {}, {"admin", "operator", "auditor"}),
    ("GET", "/api/v1/whoami", {}, READ),
    ("GET", "/api/v1/alerts", {}, READ),
    ("GET", "/api/v1/silences", {}, READ),
    ("POST", "/api/v1/silences", {"_json": {"matchers": [{"name": "pool", "value": "matrix"}],
                                            "duration": "1h"}}, {"admin", "operator"}),
    ("DELETE", "/api/v1/silence/{sid}", {}, {"admin", "operator"}),
    ("GET", "/api/v1/reports", {}, READ),
    ("GET", "/api/v1/reports/monthly", {"month": "2026-10"}, READ),
    ("GET", "/metrics", {}, {"admin", "operator", "auditor"}),
]


class Roles(HttpBase):

    def call(self, method, path, params, token, src="127.0.0.1"):
        if "{sid}" in path:             # a silence to expire: one made by admin, once
            if not getattr(self, "sid", None):
                st, _, body = self.request("POST", "/api/v1/silences", token=self.tokens["admin"],
                                           body=b'{"matchers":[{"name":"pool","value":"x"}],'
                                                b'"duration":"1h"}',
                                           headers={"Content-Type": "application/json"})
                self.assertEqual(st, 200, body)
                self.sid = str(json.loads(body)["data"]["silenceID"])
            path = path.replace("{sid}", self.sid)
        if "_json" in params:
            return self.request(method, path, token=token, body=json.dumps(params["_json"]).encode(),
                                headers={"Content-Type": "application/json"}, src=src)
        if method == "POST":
            return self.request("POST", path, token=token, form=params, src=src)
        if method == "DELETE":
            return self.request("DELETE", path, token=token, src=src)
        return self.request("GET", path, token=token, params=params, src=src)

    def test_matrix(self):
        """Every endpoint x every role: allowed, 401 (no or bad token) or 403; all audited."""
        for method, path, params, allowed in ENDPOINTS:
            for role in ROLES:
                st, hdrs, body = self.call(method, path, params, self.tokens[role])
                want = 200 if role in allowed else 403
                self.assertEqual(st, want, "%s %s as %s: %s" % (method, path, role, body[:300]))
                if st == 403:
                    err = json.loads(body)
                    self.assertEqual((err["status"], err["errorType"]), ("error", "forbidden"))
            for what, tok in (("none", None), ("bad", "pwt_0123456789ab_" + "x" * 43),
                              ("garbage", "not a token")):
                src = self.fresh_source()
                st, hdrs, body = self.call(method, path, params, tok, src=src)
                if path == "/metrics" and tok is None:
                    self.assertEqual(st, 200, "a local scrape needs no token")
                    continue
                self.assertEqual(st, 401, "%s %s with %s token: %s" % (method, path, what, body))
                self.assertTrue(hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs)
                self.assertEqual(json.loads(body)["errorType"], "unauthorized")
        # /healthz answers everyone, token or not
        for tok in (None, "junk", self.tokens["tenant"]):
            st, _, body = self.request("GET", "/healthz", token=tok)
            self.assertEqual(st, 200)
            h = json.loads(body)
            self.assertEqual((h["status"], h["store"]), ("ok", "ok"))
            self.assertIn("version", h)
            self.assertIsInstance(h["uptime_seconds"], int)

        # Every call above is in the audit log with its outcome.
        recs = self.audit()
        by = {}
        for r in recs:
            by.setdefault((r["action"], r["principal"], r["result"]), []).append(r)
        for method, path, params, allowed in ENDPOINTS:
            action = "%s %s" % (method, "/api/v1/label/:name/values" if "/label/" in path
                                else "/api/v1/silence/:id" if "{sid}" in path
                                else "/api/v1/reports/:kind" if path.startswith("/api/v1/reports/") else path)
            for role in ROLES:
                if path == "/metrics" and role in allowed:
                    continue            # successful scrapes are not audited (README)
                result = "ok" if role in allowed else "denied"
                self.assertIn((action, "it-" + role, result), by,
                              "no audit record for %s as %s" % (action, role))
            unauth = by.get((action, "anonymous", "unauthenticated"), [])
            self.assertEqual(len(unauth), 2 if path == "/metrics" else 3, action)
            for r in unauth:
                self.assertRegex(r["source"], r"^127\.0\.\d+\.\d+:\d+$")
                self.assertNotEqual(r["detail"], "")
        # The claimed id of a refused token is kept (the secret never is).
        bad = [r for r in recs if r["token_id"] == "0123456789ab"]
        self.assertTrue(bad and all(r["result"] == "unauthenticated" for r in bad))
        self.assertNotIn("x" * 43, json.dumps(recs))
        # Objects are what was asked for.
        q = by[("GET /api/v1/query", "it-admin", "ok")][0]
        self.assertEqual(q["object"], "up")
        self.assertEqual(by[("GET /api/v1/label/:name/values", "it-tenant", "ok")][0]["object"],
                         "host")
        # And the chain of the log is intact.
        r = subprocess.run([CLI, "--data", self.data, "audit", "verify"], capture_output=True,
                           text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_metrics_remote_needs_token(self):
        """From another machine (a non-loopback address) /metrics needs a token.

        Tests reach loopback only: the collector and the client run in a network
        namespace of the test's own, where 192.0.2.11 (a documentation address)
        is put on its loopback interface; nothing leaves the namespace.
        """
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare --net is not permitted here (needs root)")
        ns = Proc(["unshare", "--net", "sh", "-c",
                   "ip link set lo up && ip addr add 192.0.2.11/32 dev lo && echo ready "
                   "&& exec sleep 300"], os.path.join(self.tmp, "netns.log"))
        self.procs.append(ns)
        ns.wait_log(r"ready")
        inside = ["nsenter", "-t", str(ns.p.pid), "-n"]
        self.coll.stop()
        port = free_port()
        coll = Proc(inside + [COLLECTOR, "--listen", self.url, "--data", self.data,
                              "--http", "0.0.0.0:%d" % port],
                    os.path.join(self.tmp, "collector-ns.log"))
        self.procs.append(coll)
        coll.wait_log(r"HTTP API on https?://")
        client = textwrap.dedent("""
            import http.client, sys
            for tok in sys.argv[1:]:
                c = http.client.HTTPConnection("192.0.2.11", %d, timeout=30,
                                               source_address=("192.0.2.11", 0))
                h = {} if tok == "-" else {"Authorization": "Bearer " + tok}
                c.request("GET", "/metrics", headers=h)
                print(c.getresponse().status)
                c.close()
        """ % port)
        r = subprocess.run(inside + [sys.executable, "-c", client, "-", self.tokens["operator"],
                                     self.tokens["tenant"]],
                           capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["401", "200", "403"])
        coll.stop()
        ns.kill9()

    def test_metrics_text(self):
        text = self.api("/metrics", None)
        names = set()
        for line in text.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ")
                continue
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\S+)$',
                         line)
            self.assertIsNotNone(m, line)
            float(m.group(4))
            names.add(m.group(1))
        for n in ("poolwatch_collector_frames_received_total", "poolwatch_collector_info",
                  "poolwatch_collector_uptime_seconds", "poolwatch_http_responses_total",
                  "poolwatch_http_auth_failures_total", "process_start_time_seconds",
                  "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
            self.assertIn(n, names)


class Tenants(HttpBase):

    FOREIGN = ("bureau-b", "secret_b", '"b1"', '"tenant":"b"', "shared", '"owner"', '"c1"', '"c2"')

    def assert_own(self, body, tenant="a"):
        """No byte of another tenant's series in a response body."""
        text = json.dumps(body)
        for s in self.FOREIGN:
            self.assertNotIn(s, text)
        return text

    def series_of(self, result):
        return [r["metric"] for r in result]

    def test_widening_selectors(self):
        tok = self.tokens["tenant"]
        start, end = str(self.t0), str(self.t0 + 1800)
        for sel in ('up', '{__name__=~".+"}', '{tenant=~".*",__name__=~".+"}', '{tenant="b"}',
                    'up{tenant!="a"}', 'secret_b', '{owner="bureau-b"}', '{tenant=~"a|b",job="node"}',
                    '{host=~".+"}', '{tenant=~"A|B|b",__name__=~".+"}', 'node_load1{host="shared"}',
                    '{__name__=~"secret.*|up"}', '{tenant="",__name__=~".+"}'):
            for q in (sel, "sum by (tenant, host) (%s)" % sel, "count(%s)" % sel,
                      "%s * 1" % sel, "max_over_time(%s[10m])" % sel):
                body = self.api("/api/v1/query_range", tok, form={"query": q, "start": start,
                                                                  "end": end, "step": "300"})
                self.assert_own(body)
                for m in self.series_of(body["data"]["result"]):
                    if "tenant" in m:
                        self.assertEqual(m["tenant"], "a", (q, m))
                body = self.api("/api/v1/query", tok, params={"query": q, "time": end})
                self.assert_own(body)
            body = self.api("/api/v1/series", tok, params={"match[]": sel, "start": start, "end": end})
            self.assert_own(body)
            self.assertTrue(all(m.get("tenant") == "a" for m in body["data"]), body)
            self.assert_own(self.api("/api/v1/labels", tok, params={"match[]": sel}))
            self.assert_own(self.api("/api/v1/query", tok, params={"query": sel + "[1h]",
                                                                    "time": end}))
        # count sees exactly a's own series
        body = self.api("/api/v1/query", tok, params={"query": 'count({__name__=~".+"})', "time": end})
        self.assertEqual(body["data"]["result"][0]["value"][1], "5")

    def test_labels_and_values(self):
        start, end = str(self.t0), str(self.t0 + 1800)
        a = self.tokens["tenant"]
        self.assertEqual(self.api("/api/v1/label/tenant/values", a)["data"], ["a"])
        self.assertEqual(self.api("/api/v1/label/tenant/values", a,
                                  params={"start": start, "end": end})["data"], ["a"])
        self.assertEqual(self.api("/api/v1/label/__name__/values", a)["data"],
                         ["node_load1", "odd", "up"])
        self.assertEqual(self.api("/api/v1/label/owner/values", a)["data"], [])
        self.assertEqual(self.api("/api/v1/label/host/values", a)["data"], ["a1", "a2"])
        self.assertEqual(self.api("/api/v1/labels", a)["data"],
                         ["__name__", "host", "job", "kind", "tenant"])
        self.assertEqual(self.api("/api/v1/labels", a, params={"match[]": "secret_b"})["data"], [])
        self.assertEqual(self.api("/api/v1/series", a, params={"match[]": "secret_b"})["data"], [])
        # the other tenant, and a tenant without series
        b = self.tokens["tenant_b"]
        self.assertEqual(self.api("/api/v1/label/tenant/values", b)["data"], ["b"])
        self.assertEqual(self.api("/api/v1/label/owner/values", b)["data"], ["bureau-b"])
        for tok in (self.tokens["tenant_c"], self.tokens["tenant_re"]):
            self.assertEqual(self.api("/api/v1/label/tenant/values", tok)["data"], [])
            self.assertEqual(self.api("/api/v1/labels", tok)["data"], [])
            body = self.api("/api/v1/query_range", tok, form={
                "query": '{__name__=~".+"}', "start": start, "end": end, "step": "60"})
            self.assertEqual(body["data"]["result"], [])
        # everyone else sees everything
        for role in ("admin", "operator", "auditor"):
            self.assertEqual(self.api("/api/v1/label/tenant/values", self.tokens[role])["data"],
                             ["a", "b"])
            names = self.api("/api/v1/label/__name__/values", self.tokens[role])["data"]
            self.assertIn("secret_b", names)


class Prometheus(HttpBase):
    """Response shapes as Prometheus writes them and Grafana's data source reads them."""

    def check_matrix(self, body, start, end, step):
        self.assertEqual(body["status"], "success")
        self.assertEqual(body["data"]["resultType"], "matrix")
        for s in body["data"]["result"]:
            self.assertEqual(set(s), {"metric", "values"})
            self.assertTrue(all(isinstance(k, str) and isinstance(v, str) for k, v in s["metric"].items()))
            self.assertTrue(s["values"], "series without points are left out")
            last = None
            for ts, v in s["values"]:
                self.assertIsInstance(ts, (int, float))
                self.assertIsInstance(v, str)
                float(v)                                   # "NaN", "+Inf" parse too
                self.assertTrue(start <= ts <= end)
                self.assertAlmostEqual((ts - start) / step, round((ts - start) / step), places=6)
                if last is not None:
                    self.assertGreater(ts, last)
                last = ts
        return body["data"]["result"]

    def test_query_range(self):
        tok = self.tokens["admin"]
        start, end, step = self.t0, self.t0 + 1800, 60
        ref = None
        # Grafana POSTs a form with unix seconds; other clients GET with RFC 3339 and durations.
        variants = [
            ("POST", {"query": 'up{job="node"}', "start": str(start), "end": str(end), "step": "60",
                      "timeout": "30s"}),
            ("GET", {"query": 'up{job="node"}', "start": str(start) + ".000", "end": str(end),
                     "step": "1m"}),
            ("GET", {"query": 'up{job="node"}',
                     "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                     "end": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(end)),
                     "step": "60.0"}),
        ]
        for method, p in variants:
            if method == "POST":
                body = self.api("/api/v1/query_range", tok, form=p)
            else:
                body = self.api("/api/v1/query_range", tok, params=p)
            res = self.check_matrix(body, start, end, step)
            if ref is None:
                ref = res
            self.assertEqual(res, ref)
        self.assertEqual(len(ref), 3)
        self.assertEqual([r["metric"]["host"] for r in ref], ["a1", "a2", "b1"])
        self.assertEqual(ref[0]["metric"], {"__name__": "up", "host": "a1", "job": "node",
                                            "tenant": "a"})
        self.assertEqual(len(ref[0]["values"]), 31)
        self.assertEqual(ref[0]["values"][0], [start, "1"])
        # fractional step and start: timestamps with milliseconds, as Prometheus writes them
        body = self.api("/api/v1/query_range", tok, params={
            "query": 'node_load1{host="a1"}', "start": "%d.5" % start, "end": str(start + 10),
            "step": "2.5"})
        vals = self.check_matrix(body, start + 0.5, start + 10, 2.5)[0]["values"]
        self.assertEqual(vals[0], [start + 0.5, "0"])
        self.assertEqual(vals[1][0], start + 3)
        # functions and aggregations drop the name; values keep full precision
        body = self.api("/api/v1/query_range", tok, form={
            "query": 'sum by (tenant) (rate(c1[5m]))', "start": str(start + 600),
            "end": str(start + 900), "step": "300"})
        res = self.check_matrix(body, start + 600, start + 900, 300)
        self.assertEqual(res[0]["metric"], {})
        self.assertAlmostEqual(float(res[0]["values"][0][1]), 1 / 60)
        # NaN and Inf as Prometheus spells them
        body = self.api("/api/v1/query_range", tok, params={
            "query": "odd", "start": str(start), "end": str(start), "step": "60"})
        got = {s["metric"]["kind"]: s["values"][0][1] for s in body["data"]["result"]}
        self.assertEqual(got, {"nan": "NaN", "inf": "+Inf"})

    def test_query_instant(self):
        tok = self.tokens["operator"]
        t = self.t0 + 1800
        body = self.api("/api/v1/query", tok, params={"query": 'up{job="node"}', "time": str(t)})
        self.assertEqual(body["data"]["resultType"], "vector")
        res = body["data"]["result"]
        self.assertEqual(len(res), 3)
        for s in res:
            self.assertEqual(set(s), {"metric", "value"})
            self.assertEqual(s["value"][0], t)          # the evaluation time, not the sample's
        self.assertEqual(res[0]["value"][1], "1")
        # Grafana's "Save & test": 1+1 at a fractional time, a scalar
        st, _, raw = self.request("POST", "/api/v1/query", tok, form={"query": "1+1",
                                                                       "time": "%d.123" % t})
        self.assertEqual(st, 200)
        self.assertEqual(raw.decode(), '{"status":"success","data":{"resultType":"scalar",'
                                       '"result":[%d.123,"2"]}}' % t)
        # no time: now
        before = time.time()
        body = self.api("/api/v1/query", tok, params={"query": "2*3"})
        self.assertEqual(body["data"]["result"][1], "6")
        self.assertTrue(before - 1 <= body["data"]["result"][0] <= time.time() + 1)
        # a range selector: the raw samples in (t - 5m, t]
        body = self.api("/api/v1/query", tok, params={"query": 'up{host="a1"}[5m]', "time": str(t)})
        self.assertEqual(body["data"]["resultType"], "matrix")
        self.assertEqual([v[0] for v in body["data"]["result"][0]["values"]],
                         [t - 240, t - 180, t - 120, t - 60, t])
        # nothing matches: an empty vector, not an error
        body = self.api("/api/v1/query", tok, params={"query": "nothing_here", "time": str(t)})
        self.assertEqual(body["data"], {"resultType": "vector", "result": []})

    def test_keep_alive(self):
        """Grafana keeps its connection: answers, errors included, follow one another on it."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30 * SLOW)
        hdrs = {"Authorization": "Bearer " + self.tokens["tenant"],
                "Content-Type": "application/x-www-form-urlencoded"}
        try:
            for q, want in (("up", 200), ("sum(", 400), ("count(up)", 200), ("up", 200)):
                c.request("POST", "/api/v1/query",
                          body=urllib.parse.urlencode({"query": q, "time": str(self.t0 + 60)}),
                          headers=hdrs)
                r = c.getresponse()
                body = json.loads(r.read())
                self.assertEqual(r.status, want, body)
            self.assertEqual(body["data"]["result"][0]["metric"]["host"], "a1")
            c.request("HEAD", "/healthz")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b""))
        finally:
            c.close()

    def test_listings(self):
        tok = self.tokens["auditor"]
        start, end = str(self.t0), str(self.t0 + 1800)
        body = self.api("/api/v1/series", tok, form={"match[]": ["up", "secret_b", "up"],
                                                     "start": start, "end": end})
        self.assertEqual(body["data"], [
            {"__name__": "secret_b", "host": "b1", "owner": "bureau-b", "tenant": "b"},
            {"__name__": "up", "host": "a1", "job": "node", "tenant": "a"},
            {"__name__": "up", "host": "a2", "job": "node", "tenant": "a"},
            {"__name__": "up", "host": "b1", "job": "node", "tenant": "b"},
        ])
        # a time range without data lists nothing
        body = self.api("/api/v1/series", tok, params={"match[]": "up", "start": "1000",
                                                       "end": "2000"})
        self.assertEqual(body["data"], [])
        labels = self.api("/api/v1/labels", tok, params={"start": start, "end": end})["data"]
        self.assertEqual(labels, sorted(labels))
        self.assertTrue({"__name__", "host", "tenant", "owner", "job", "x"} <= set(labels))
        vals = self.api("/api/v1/label/__name__/values", tok, params={"start": start, "end": end})
        self.assertTrue({"up", "secret_b", "c1", "c2", "odd", "node_load1"} <= set(vals["data"]))
        self.assertEqual(vals["data"], sorted(vals["data"]))
        self.assertEqual(self.api("/api/v1/label/job/values", tok,
                                  params={"match[]": "up"})["data"], ["node"])
        self.assertEqual(self.api("/api/v1/metadata", tok), {"status": "success", "data": {}})

    def test_errors(self):
        tok = self.tokens["admin"]
        t = str(self.t0 + 600)
        bad = [
            ("/api/v1/query", {"query": "sum("}, 400, "bad_data"),
            ("/api/v1/query", {"query": ""}, 400, "bad_data"),
            ("/api/v1/query", {}, 400, "bad_data"),
            ("/api/v1/query", {"query": "up", "time": "yesterday"}, 400, "bad_data"),
            ("/api/v1/query", {"query": "up offset 5m"}, 400, "bad_data"),
            ("/api/v1/query", {"query": "x" * 20000}, 400, "bad_data"),     # POST only (URL > 8 KiB)
            ("/api/v1/query_range", {"query": "up", "start": t, "end": t}, 400, "bad_data"),
            ("/api/v1/query_range", {"query": "up", "start": t, "end": t, "step": "0"}, 400, "bad_data"),
            ("/api/v1/query_range", {"query": "up", "start": t, "end": t, "step": "-1"}, 400, "bad_data"),
            ("/api/v1/query_range", {"query": "up", "start": t, "end": "1", "step": "1"}, 400, "bad_data"),
            ("/api/v1/query_range", {"query": "up", "start": "1", "end": "100000", "step": "1"}, 400,
             "bad_data"),
            ("/api/v1/query_range", {"query": "up", "end": t, "step": "1"}, 400, "bad_data"),
            ("/api/v1/query_range", {"query": "up[5m]", "start": t, "end": t, "step": "1"}, 400,
             "bad_data"),
            ("/api/v1/series", {}, 400, "bad_data"),
            ("/api/v1/series", {"match[]": "{"}, 400, "bad_data"),
            ("/api/v1/series", {"match[]": '{x=~".*"}'}, 400, "bad_data"),
            ("/api/v1/labels", {"match[]": "up", "start": "x"}, 400, "bad_data"),
            ("/api/v1/label/0bad/values", {}, 400, "bad_data"),
            ("/api/v1/label/host/nothing", {}, 404, "not_found"),
            # two series that are the same once the name is dropped
            ("/api/v1/query", {"query": 'rate({__name__=~"c1|c2"}[5m])', "time": t}, 422, "execution"),
        ]
        for path, params, status, etype in bad:
            for method in ("GET", "POST"):
                if path.startswith("/api/v1/label/") and method == "POST":
                    continue
                if method == "GET" and len(params.get("query", "")) > 8000:
                    continue
                if method == "GET":
                    st, hdrs, body = self.request("GET", path, tok, params=params)
                else:
                    st, hdrs, body = self.request("POST", path, tok, form=params)
                self.assertEqual(st, status, "%s %s %s: %s" % (method, path, params, body[:300]))
                err = json.loads(body)
                self.assertEqual((err["status"], err["errorType"]), ("error", etype), body)
                self.assertTrue(err["error"])
        # the refused calls are audited as failed, with the reason
        failed = [r for r in self.audit() if r["result"] == "failed"]
        self.assertGreaterEqual(len(failed), len(bad))
        self.assertTrue(any("labelset" in r["detail"] for r in failed), failed)


class Limits(HttpBase):

    def raw(self, data, timeout=5, src="127.0.0.1", shutdown=True):
        """Sends bytes on a fresh connection; what comes back before it closes (or b'')."""
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout * SLOW,
                                     source_address=(src, 0))
        out = b""
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and not shutdown:
                    break
        except (OSError, socket.timeout):
            # ENOTCONN, ECONNRESET, EPIPE: the server dropped a request it
            # would not take, which is what these tests expect it may do.
            pass
        finally:
            s.close()
        return out

    def assert_serving(self):
        body = self.api("/api/v1/query", self.tokens["admin"],
                        params={"query": "up", "time": str(self.t0 + 600)})
        self.assertEqual(len(body["data"]["result"]), 3)
        self.assertIsNone(self.coll.p.poll(), "the collector died")

    def test_failed_auth_rate_limit(self):
        src = "127.0.9.9"
        for i in range(10):
            st, _, _ = self.request("GET", "/api/v1/labels", token="bad%d" % i, src=src)
            self.assertEqual(st, 401)
        for i in range(5):
            st, hdrs, body = self.request("GET", "/api/v1/labels", token="bad", src=src)
            self.assertEqual(st, 429, body)
            self.assertGreaterEqual(int(hdrs["retry-after"]), 1)
            self.assertEqual(json.loads(body)["errorType"], "too_many_requests")
        # a good token from that address waits too; other addresses are not affected
        st, _, _ = self.request("GET", "/api/v1/labels", token=self.tokens["admin"], src=src)
        self.assertEqual(st, 429)
        st, _, _ = self.request("GET", "/api/v1/labels", token=self.tokens["admin"], src="127.0.9.10")
        self.assertEqual(st, 200)
        # ten refusals audited, and the limit once, not once per refused call
        recs = [r for r in self.audit() if r["source"].startswith(src + ":")]
        self.assertEqual(len([r for r in recs if "too many" in r["detail"]]), 1, recs)
        self.assertEqual(len([r for r in recs if r["result"] == "unauthenticated"]), 11)
        # one token comes back every 6 s
        time.sleep(6.5)
        st, _, _ = self.request("GET", "/api/v1/labels", token=self.tokens["admin"], src=src)
        self.assertEqual(st, 200)
        m = self.api("/metrics", None)
        self.assertRegex(m, r"poolwatch_http_rate_limited_total [1-9]")

    def test_bad_requests(self):
        tok = self.tokens["admin"]
        # bad escapes and separators in the query string and in a form
        for qs in ("query=%zz", "query=up;time=1", "query=%", "query=a%00b"):
            st, _, body = self.request("GET", "/api/v1/query?" + qs, token=tok)
            self.assertEqual(st, 400, (qs, body))
            st, _, body = self.request("POST", "/api/v1/query", token=tok, body=qs.encode(),
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(st, 400, (qs, body))
        # not UTF-8
        st, _, body = self.request("GET", "/api/v1/query?query=up%7Bhost%3D%22%FF%22%7D", token=tok)
        self.assertEqual(st, 400, body)
        # unknown path, wrong method
        st, _, _ = self.request("GET", "/api/v2/query", token=tok)
        self.assertEqual(st, 404)
        st, hdrs, _ = self.request("DELETE", "/api/v1/series", token=tok)
        self.assertEqual(st, 405)
        self.assertIn("GET", hdrs.get("allow", ""))
        st, _, _ = self.request("POST", "/api/v1/hosts", token=tok)
        self.assertEqual(st, 405)
        # a body over 1 MiB is refused before it is read
        out = self.raw(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       tok.encode() + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       b"Content-Length: 2000000\r\n\r\nquery=up", shutdown=False)
        self.assertTrue(out == b"" or re.match(rb"HTTP/1\.[01] 4\d\d", out), out[:200])
        # a form just under the limit is read (and its long query refused as such)
        st, _, body = self.request("POST", "/api/v1/query", token=tok,
                                   form={"query": "x" * (1024 * 1024 - 100)})
        self.assertEqual(st, 400, body[:200])
        # garbage, binary, HTTP/2 preface, a huge header, a bare LF line
        for junk in (b"\x00\xff" * 5000, os.urandom(4096), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                     b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
                     b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", b"\r\n\r\n\r\n",
                     b"GET /healthz\r\n\r\n"):
            out = self.raw(junk)
            self.assertTrue(out == b"" or re.match(rb"HTTP/1\.[01] [45]\d\d", out), out[:200])
        self.assert_serving()

    def test_flood_and_slow_clients(self):
        """A bounded garbage flood and clients that never finish their request: the server
        keeps answering (NNG has no header timeout; they cost a socket each, not a thread)."""
        slow = []
        for i in range(64):
            s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5 * SLOW)
            s.sendall(b"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nAuthor")
            slow.append(s)
        try:
            self.assert_serving()
            errors = []

            def flood(n):
                try:
                    for k in range(n):
                        self.raw(os.urandom(64 + k % 512), timeout=5)
                except OSError as e:        # a refused connect would be a failure
                    errors.append(e)
            threads = [threading.Thread(target=flood, args=(50,)) for _ in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            self.assertEqual(errors, [])
            self.assert_serving()
            # a body that never arrives holds its connection, not the server
            s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5 * SLOW)
            s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n\r\nquery=")
            slow.append(s)
            self.assert_serving()
        finally:
            for s in slow:
                s.close()
        self.assert_serving()

    def test_concurrency_limit(self):
        """More requests at once than workers and queue: each is answered 200 or 503
        (Retry-After), and the 503s are counted."""
        tok = self.tokens["admin"]
        results = []
        lock = threading.Lock()
        q = 'sum by (host) (max_over_time({__name__=~".+"}[30m]))'

        def one():
            try:
                st, hdrs, _ = self.request("POST", "/api/v1/query_range", token=tok, form={
                    "query": q, "start": str(self.t0), "end": str(self.t0 + 1800), "step": "1"})
            except OSError as e:
                st, hdrs = repr(e), {}
            with lock:
                results.append((st, hdrs.get("retry-after")))
        threads = [threading.Thread(target=one) for _ in range(120)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertTrue(all(st in (200, 503) for st, _ in results), results)
        busy = [r for r in results if r[0] == 503]
        self.assertTrue(all(ra == "1" for _, ra in busy))
        self.assertTrue(any(st == 200 for st, _ in results))
        m = self.api("/metrics", None)
        got = int(re.search(r"poolwatch_http_busy_total (\d+)", m).group(1))
        self.assertEqual(got, len(busy))
        self.assert_serving()


class Server(HttpBase):

    start_collector = False

    def test_http_off_and_bad_address(self):
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--http", "off"],
                 os.path.join(self.tmp, "off.log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)
        self.assertNotIn("HTTP API", p.text())
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.http_port), timeout=2).close()
        p.stop()
        for addr in ("127.0.0.1", "127.0.0.1:99999", "::1:7480", "http://127.0.0.1:80", ":"):
            r = subprocess.run([COLLECTOR, "--listen", self.url, "--data", self.data, "--http", addr],
                               capture_output=True, text=True, timeout=30 * SLOW)
            self.assertEqual(r.returncode, 1, (addr, r.stderr))
            self.assertIn("http", r.stderr)
        # a taken port is a clear error, not a hang
        with socket.socket() as s:
            s.bind(("127.0.0.1", self.http_port))
            s.listen(1)
            r = subprocess.run([COLLECTOR, "--listen", self.url, "--data", self.data, "--http",
                                "127.0.0.1:%d" % self.http_port], capture_output=True, text=True,
                               timeout=30 * SLOW)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("cannot listen", r.stderr)

    def test_https(self):
        if shutil.which("openssl") is None:
            self.skipTest("no openssl")
        cert, key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        r = subprocess.run([COLLECTOR, "--listen", self.url, "--data", self.data, "--http",
                            "127.0.0.1:%d" % self.http_port, "--http-tls-cert", cert],
                           capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("both", r.stderr)
        self.http_collector("--http-tls-cert", cert, "--http-tls-key", key)
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", self.http_port, context=ctx, timeout=30 * SLOW)
        c.request("GET", "/api/v1/label/tenant/values",
                  headers={"Authorization": "Bearer " + self.tokens["tenant"]})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["data"], ["a"])
        c.close()
        # plain HTTP on the HTTPS port gets nothing useful, and the server stays up
        out = b""
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=5 * SLOW) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                out = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertFalse(out.startswith(b"HTTP/1.1 200"), out)
        c = http.client.HTTPSConnection("127.0.0.1", self.http_port, context=ctx, timeout=30 * SLOW)
        c.request("GET", "/healthz")
        self.assertEqual(c.getresponse().status, 200)
        c.close()


if __name__ == "__main__":
    unittest.main()
