"""Alert engine end to end: rules from the collector's config, states and history in
DIR/alerts.mdb, `poolwatch alerts` (active, --history, backtest), GET /api/v1/alerts
with tenant scope, webhook notifications to a receiver in this test (127.0.0.1), the
persisted queue across a collector restart, SIGHUP keeping state, silent agents, and
delivery to a real Alertmanager when prometheus-alertmanager is installed.

Data comes from `poolwatch import` with explicit timestamps; every wait is on a
receiver's message, a command's output or a log line.
"""
import http.client
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import unittest

from pwtest import SLOW, ApiCollectorTest, Proc, free_port, wait_until

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
MIN = 60 * 1000


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body POSTed to it."""

    def __init__(self, port=0, tls=None):
        self.bodies = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with outer.lock:
                    outer.bodies.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def messages(self):
        with self.lock:
            return list(self.bodies)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class AlertsTest(ApiCollectorTest):

    def start(self, *extra, name="collector"):
        return self.start_api_collector("--capacity-interval", "0", "--alert-interval", "200ms", *extra, name=name)

    def alerts(self, *args):
        r = self.cli("alerts", "--format", "json", *args)
        return json.loads(r.stdout)

    def names(self, *args):
        return sorted((a["rule"], a["state"]) for a in self.alerts(*args))

    def api(self, path, token):
        st, _, data = self.http("GET", path, token)
        return st, json.loads(data or b"null")

    # ---- backtest over a month of imported data ------------------------------------

    def test_backtest_month_no_flapping(self):
        """Noisy data between 66 % and 75 % fires once and resolves only below 65 %."""
        # The forecast below is stored hourly (the capacity thread writes it every minute):
        # its rule must look back an hour for the newest value.
        self.write_config("alerts:\n  rules:\n    - {name: PoolCapacityForecast, lookback: 1h}\n")
        os.makedirs(self.data, exist_ok=True)
        end = (self.now_ms() // (5 * MIN)) * 5 * MIN - 60 * MIN
        start = end - 30 * 86400 * 1000
        noise = [0.72, 0.66, 0.75, 0.68, 0.71, 0.69, 0.74, 0.67, 0.70, 0.66]
        lines = []
        for i in range((end - start) // (5 * MIN) + 1):
            ts = start + i * 5 * MIN
            day = (ts - start) / 86400000
            v = 0.5 if day < 10 else noise[i % 10] if day < 12 else 0.6
            lines.append('poolwatch_pool_allocated_ratio{pool="pm",resource="cpu"} %r %d' % (v, ts))
            lines.append('poolwatch_pool_used_ratio{pool="pm",resource="cpu"} 0.3 %d' % ts)
            if i % 12 == 0:     # hourly: days left until 70 %, falling 2 a day from 60
                lines.append('poolwatch_pool_days_to_threshold{pool="pm",resource="memory",'
                             'kind="used",threshold="0.7"} %r %d' % (60 - 2 * day, ts))
        self.put(lines)
        r = self.cli("--config", self.config, "alerts", "backtest", "--from", str(start // 1000),
                     "--to", str(end // 1000), "--step", "5m", "--format", "json")
        hist = json.loads(r.stdout)
        warn = [(h["from"], h["state"], h["time"]) for h in hist
                if h["rule"] == "PoolCapacityWarning"]
        self.assertEqual([w[:2] for w in warn],
                         [("inactive", "pending"), ("pending", "firing"), ("firing", "resolved")])
        first = start + 10 * 86400000                    # the first value of the noise: 0.72 or so
        self.assertGreaterEqual(warn[0][2], first)
        self.assertLess(warn[0][2], first + 30 * MIN)
        self.assertEqual(warn[1][2] - warn[0][2], 15 * MIN)
        self.assertEqual(warn[2][2], start + 12 * 86400000)   # the first 0.6
        self.assertFalse([h for h in hist if h["rule"] == "PoolCapacityCritical"])
        fc = [h for h in hist if h["rule"] == "PoolCapacityForecast"]
        self.assertEqual([(h["from"], h["state"]) for h in fc],
                         [("inactive", "pending"), ("pending", "firing")])
        self.assertEqual(fc[1]["labels"]["measure"], "used")
        self.assertEqual(fc[1]["labels"]["resource"], "memory")
        self.assertLessEqual(fc[0]["value"], 30)
        # The same as CSV and as a table.
        csv = self.cli("alerts", "backtest", "--from", str(start // 1000), "--to", str(end // 1000),
                       "--step", "5m", "--format", "csv", "--config", self.config).stdout.splitlines()
        self.assertEqual(csv[0], "time,rule,severity,from,to,labels,value,fingerprint")
        self.assertEqual(len(csv), len(hist) + 1)
        # Nothing was written to the collector's own alerts.mdb.
        self.assertFalse(os.path.exists(os.path.join(self.data, "alerts.mdb")))
        bad = self.cli("alerts", "backtest", "--from", "-1h", check=False)
        self.assertEqual(bad.returncode, 0)
        bad = self.cli("alerts", "backtest", "--to", "-1h", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("--from is needed", bad.stderr)

    def test_example_config(self):
        """deploy/collector.example.yaml's alerts: section is valid and means the defaults."""
        example = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "collector.example.yaml")
        rules = json.loads(self.cli("--config", example, "alerts", "rules").stdout)
        defaults = json.loads(self.cli("alerts", "rules").stdout)
        self.assertEqual(rules, defaults)
        self.assertEqual([r["name"] for r in rules], ["PoolCapacityWarning", "PoolCapacityCritical",
                                                      "PoolCapacityForecast", "AgentSilent", "HostDown",
                                                      "VMUnderused", "SystemUnderused", "VMZombie",
                                                      "VMOversized", "VMUndersized"])
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("alerts:\n  rules:\n    - name: X\n      kind: expr\n      expr: up\n"
                    "      threshold: 1\n      for: soon\n")
        r = self.cli("--config", bad, "alerts", "rules", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.yaml:7: alerts: rule X: for must be a duration", r.stderr)

    # ---- live: webhook, history, API and tenants -----------------------------------

    def test_live_webhook_history_api_tenants(self):
        rcv = Receiver()
        self.addCleanup(rcv.close)
        self.write_config(
            "capacity-interval: 0\n"
            "alerts:\n"
            "  external_url: http://pw.example:7480\n"
            "  rules:\n"
            "    - name: PoolCapacityWarning\n"
            "      for: 0\n"
            "    - name: TenantHighLoad\n"
            "      kind: expr\n"
            "      expr: tenant_load\n"
            "      threshold: 5\n"
            "      severity: warning\n"
            "      annotations: {summary: 'load {{ $value }} on {{ $labels.host }}'}\n"
            "  receivers:\n"
            "    - name: ops\n"
            "      type: webhook\n"
            "      url: http://127.0.0.1:%d/hook\n" % rcv.port)
        admin = self.token("--role", "admin", "--name", "a")
        ta = self.token("--role", "tenant", "--tenant", "unit-a", "--name", "ta")
        tb = self.token("--role", "tenant", "--tenant", "unit-b", "--name", "tb")
        coll = self.start()
        coll.wait_log(r"alerts: 11 rule\(s\), 1 receiver\(s\)", timeout=10)
        t0 = self.now_ms()
        self.put(['poolwatch_pool_allocated_ratio{pool="pa",resource="cpu"} 0.8 %d' % t0,
                  'tenant_load{tenant="unit-a",host="vm1"} 9 %d' % t0])
        wait_until(lambda: len(rcv.messages()) >= 2, 10 * SLOW, "two webhook messages")
        msgs = {m[2]["groupLabels"].get("pool", m[2]["groupLabels"].get("tenant")): m for m in rcv.messages()}
        path, ctype, pool = msgs["pa"]
        self.assertEqual((path, ctype), ("/hook", "application/json"))
        self.assertEqual(pool["version"], "4")
        self.assertEqual(pool["status"], "firing")
        self.assertEqual(pool["receiver"], "ops")
        self.assertEqual(pool["groupKey"], '{}:{pool="pa"}')
        self.assertEqual(pool["externalURL"], "http://pw.example:7480")
        self.assertEqual(pool["commonLabels"]["alertname"], "PoolCapacityWarning")
        self.assertIn("commonAnnotations", pool)
        (a,) = pool["alerts"]
        self.assertEqual(a["status"], "firing")
        self.assertEqual(a["labels"], {"alertname": "PoolCapacityWarning", "severity": "warning",
                                       "pool": "pa", "resource": "cpu", "measure": "allocated"})
        self.assertEqual(a["annotations"]["summary"],
                         "Pool pa: cpu allocated at 80% (70 % or more)")
        self.assertIn("资源池 pa", a["annotations"]["summary_zh"])
        self.assertEqual(a["endsAt"], "0001-01-01T00:00:00Z")
        self.assertRegex(a["startsAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(a["fingerprint"], r"^[0-9a-f]{16}$")
        self.assertTrue(a["generatorURL"].startswith("http://pw.example:7480/"))
        self.assertEqual(msgs["unit-a"][2]["alerts"][0]["annotations"]["summary"], "load 9 on vm1")

        self.assertEqual(self.names(), [("PoolCapacityWarning", "firing"), ("TenantHighLoad", "firing")])
        table = self.cli("alerts").stdout
        self.assertRegex(table, r"firing\s+PoolCapacityWarning\s+warning\s+measure=allocated,pool=pa,resource=cpu\s+0\.8")
        csv = self.cli("alerts", "--format", "csv").stdout.splitlines()
        self.assertEqual(csv[0], "state,rule,severity,labels,value,active_since,fired_at,fingerprint")
        self.assertEqual([a["rule"] for a in self.alerts("--tenant", "unit-a")], ["TenantHighLoad"])

        # API: admin sees both; a tenant its own only (pool alerts have no tenant).
        st, body = self.api("/api/v1/alerts", admin)
        self.assertEqual(st, 200)
        self.assertEqual(sorted(x["rule"] for x in body["data"]["alerts"]),
                         ["PoolCapacityWarning", "TenantHighLoad"])
        st, body = self.api("/api/v1/alerts", ta)
        self.assertEqual((st, [x["rule"] for x in body["data"]["alerts"]]), (200, ["TenantHighLoad"]))
        st, body = self.api("/api/v1/alerts?tenant=unit-a", tb)
        self.assertEqual((st, body["data"]["alerts"]), (200, []))
        st, body = self.api("/api/v1/alerts?history=1&tenant=unit-b", tb)
        self.assertEqual((st, body["data"]["alerts"]), (200, []))
        st, body = self.api("/api/v1/alerts?history=maybe", admin)
        self.assertEqual(st, 400)

        # Below 65 %: resolved, one more message, in the history.
        self.put(['poolwatch_pool_allocated_ratio{pool="pa",resource="cpu"} 0.6 %d' % (self.now_ms())])
        wait_until(lambda: any(m[2]["status"] == "resolved" for m in rcv.messages()), 10 * SLOW,
                   "a resolved message")
        res = [m[2] for m in rcv.messages() if m[2]["status"] == "resolved"][0]
        self.assertEqual(res["alerts"][0]["status"], "resolved")
        self.assertNotEqual(res["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z")
        self.assertEqual(self.names(), [("TenantHighLoad", "firing")])
        hist = [(h["rule"], h["from"], h["state"]) for h in self.alerts("--history")]
        self.assertEqual(hist, [("PoolCapacityWarning", "inactive", "firing"),
                                ("TenantHighLoad", "inactive", "firing"),
                                ("PoolCapacityWarning", "firing", "resolved")])
        st, body = self.api("/api/v1/alerts?history=1", ta)
        self.assertEqual([(h["rule"], h["state"]) for h in body["data"]["alerts"]],
                         [("TenantHighLoad", "firing")])

        # SIGHUP with the same rules: the states are kept, nothing moves; a new breach
        # after the reload shows passes ran.
        coll.p.send_signal(signal.SIGHUP)
        coll.wait_log(r"SIGHUP: alert rules reloaded", timeout=10)
        self.put(['poolwatch_pool_allocated_ratio{pool="pb",resource="cpu"} 0.8 %d' % self.now_ms()])
        wait_until(lambda: ("PoolCapacityWarning", "firing") in self.names(), 10 * SLOW, "pb firing")
        hist = [(h["rule"], h["from"], h["state"], h["labels"].get("pool")) for h in self.alerts("--history")]
        self.assertEqual(hist[3:], [("PoolCapacityWarning", "inactive", "firing", "pb")])
        # A bad file keeps the running rules.
        self.write_config("alerts:\n  rules:\n    - {name: Broken, kind: nope}\n")
        coll.p.send_signal(signal.SIGHUP)
        coll.wait_log(r"SIGHUP: alert rules not reloaded", timeout=10)
        self.assertIn("unknown kind", coll.text())
        self.assertEqual(self.names(), [("PoolCapacityWarning", "firing"), ("TenantHighLoad", "firing")])

    # ---- silences and inhibition -----------------------------------------------------

    def test_silence_and_inhibition(self):
        rcv = Receiver()
        self.addCleanup(rcv.close)
        self.write_config(
            "alerts:\n"
            "  rules:\n"
            "    - {name: PoolCapacityWarning, for: 0}\n"
            "    - {name: PoolCapacityCritical, for: 0}\n"
            "  receivers:\n"
            "    - {name: ops, type: webhook, url: 'http://127.0.0.1:%d/'}\n" % rcv.port)
        os.makedirs(self.data, exist_ok=True)
        bad = self.cli("alerts", "silence", "add", "pool", "--duration", "1h", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("is not name=value", bad.stderr)
        sid = self.cli("alerts", "silence", "add", "pool=ps", "alertname=~Pool.*", "--duration", "1h",
                       "--author", "operator-1", "--comment", "maintenance").stdout.strip()
        self.assertRegex(sid, r"^\d+$")
        self.start()
        now = self.now_ms()
        self.put(['poolwatch_pool_used_ratio{pool="ps",resource="cpu"} 0.9 %d' % now,
                  'poolwatch_pool_used_ratio{pool="pt",resource="cpu"} 0.9 %d' % now])
        wait_until(lambda: rcv.messages(), 10 * SLOW, "pt's message")
        states = sorted((a["labels"]["pool"], a["labels"]["severity"], a["state"],
                         bool(a.get("silenced_by")), a.get("inhibited", False)) for a in self.alerts())
        self.assertEqual(states, [("ps", "critical", "firing", True, False),
                                  ("ps", "warning", "firing", True, True),
                                  ("pt", "critical", "firing", False, False),
                                  ("pt", "warning", "firing", False, True)])
        self.assertRegex(self.cli("alerts").stdout, r"firing \(silenced\)\s+PoolCapacityCritical")
        (msg,) = [m[2] for m in rcv.messages()]
        # pt's critical only: its warning is inhibited, ps is silenced.
        self.assertEqual([(a["labels"]["pool"], a["labels"]["severity"]) for a in msg["alerts"]],
                         [("pt", "critical")])
        listing = json.loads(self.cli("alerts", "silence", "list", "--format", "json").stdout)
        self.assertEqual(listing[0]["author"], "operator-1")
        self.assertEqual(listing[0]["matchers"][1], {"name": "alertname", "op": "=~", "value": "Pool.*"})
        self.assertRegex(self.cli("alerts", "silence", "list").stdout, r"active\s+pool=ps alertname=~Pool\.\*")
        self.cli("alerts", "silence", "expire", sid)
        wait_until(lambda: len(rcv.messages()) >= 2, 10 * SLOW, "ps's message once its silence ended")
        self.assertEqual([(a["labels"]["pool"], a["labels"]["severity"]) for a in rcv.messages()[1][2]["alerts"]],
                         [("ps", "critical")])
        self.assertEqual(self.cli("alerts", "silence", "expire", "999", check=False).returncode, 1)
        audit = self.cli("audit", "export", "--format", "json").stdout
        self.assertIn("alerts.silence.add", audit)
        self.assertIn("alerts.silence.expire", audit)

    @unittest.skipUnless(shutil.which("openssl"), "no openssl")
    def test_https_webhook(self):
        """An https receiver whose certificate chains to the receiver's ca_file."""
        cert, key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        # NNG (mbed TLS) matches the URL's host against DNS names: 127.0.0.1 as one.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        rcv = Receiver(tls=(cert, key))
        self.addCleanup(rcv.close)
        other = os.path.join(self.tmp, "other.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        os.path.join(self.tmp, "ok.pem"), "-out", other, "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=DNS:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        self.write_config(
            "alerts:\n"
            "  rules:\n"
            "    - {name: PoolCapacityCritical, for: 0}\n"
            "  receivers:\n"
            "    - {name: good, type: webhook, url: 'https://127.0.0.1:%d/', ca_file: '%s'}\n"
            "    - {name: untrusted, type: webhook, url: 'https://127.0.0.1:%d/', ca_file: '%s'}\n"
            % (rcv.port, cert, rcv.port, other))
        coll = self.start()
        self.put(['poolwatch_pool_used_ratio{pool="ph",resource="cpu"} 0.9 %d' % self.now_ms()])
        wait_until(lambda: rcv.messages(), 10 * SLOW, "the message over https")
        coll.wait_log(r"notification to untrusted failed", timeout=10 * SLOW)
        self.assertEqual(len(rcv.messages()), 1)
        self.assertEqual(rcv.messages()[0][2]["receiver"], "good")

    # ---- the queue survives a restart ------------------------------------------------

    def test_queue_survives_restart(self):
        port = free_port()
        self.write_config(
            "alerts:\n"
            "  rules:\n"
            "    - {name: PoolCapacityCritical, for: 0}\n"
            "  receivers:\n"
            "    - {name: later, type: webhook, url: 'http://127.0.0.1:%d/x'}\n" % port)
        coll = self.start()
        self.put(['poolwatch_pool_used_ratio{pool="pq",resource="storage"} 0.9 %d' % self.now_ms()])
        coll.wait_log(r"notification to later failed", timeout=10 * SLOW)
        coll.stop()
        rcv = Receiver(port)
        self.addCleanup(rcv.close)
        self.start(name="collector2")
        wait_until(lambda: rcv.messages(), 10 * SLOW, "the queued message after the restart")
        body = rcv.messages()[0][2]
        self.assertEqual(body["alerts"][0]["labels"]["pool"], "pq")
        self.assertEqual(body["alerts"][0]["labels"]["severity"], "critical")
        # Delivered once: the state was kept, so the restart did not fire it again.
        self.assertEqual(len(rcv.messages()), 1)
        self.assertEqual(sorted((h["rule"], h["state"]) for h in self.alerts("--history")),
                         [("PoolCapacityCritical", "firing"), ("PoolCapacityWarning", "pending")])

    # ---- silent agents ----------------------------------------------------------------

    def test_agent_silent(self):
        self.write_config("alerts:\n  rules:\n    - {name: AgentSilent, threshold: 20}\n")
        coll = self.start()
        ag = self.agent(host="quiet1")
        wait_until(lambda: len(self.points('poolwatch_agent_frame_seq{host="quiet1"}')) >= 5,
                   10 * SLOW, "the agent's frames")
        self.assertEqual(self.names(), [])
        ag.stop()
        wait_until(lambda: self.names() == [("AgentSilent", "firing")], 10 * SLOW, "AgentSilent firing")
        (a,) = self.alerts()
        self.assertEqual(a["labels"]["host"], "quiet1")
        self.assertGreaterEqual(a["value"], 3)
        self.agent(host="quiet1", name="agent")
        wait_until(lambda: self.names() == [], 10 * SLOW, "AgentSilent resolved")
        self.assertEqual([h["state"] for h in self.alerts("--history")], ["firing", "resolved"])
        self.assertTrue(coll.p.poll() is None)

    # ---- a real Alertmanager --------------------------------------------------------------

    @unittest.skipUnless(ALERTMANAGER, "prometheus-alertmanager is not installed")
    def test_alertmanager(self):
        am_port = free_port()
        am_dir = os.path.join(self.tmp, "am")
        os.makedirs(am_dir)
        with open(os.path.join(am_dir, "am.yml"), "w") as f:
            f.write('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
        am = Proc([ALERTMANAGER, "--config.file", os.path.join(am_dir, "am.yml"),
                   "--web.listen-address", "127.0.0.1:%d" % am_port, "--cluster.listen-address=",
                   "--storage.path", am_dir], os.path.join(self.tmp, "alertmanager.log"))
        self.procs.append(am)
        am.wait_log(r"Listening on", timeout=20)

        def am_alerts():
            c = http.client.HTTPConnection("127.0.0.1", am_port, timeout=10)
            try:
                c.request("GET", "/api/v2/alerts")
                return json.loads(c.getresponse().read())
            finally:
                c.close()

        self.write_config(
            "alerts:\n"
            "  rules:\n"
            "    - {name: PoolCapacityWarning, for: 0}\n"
            "  receivers:\n"
            "    - {name: am, type: alertmanager, url: 'http://127.0.0.1:%d', resend: 1s}\n" % am_port)
        self.start()
        self.put(['poolwatch_pool_allocated_ratio{pool="pam",resource="memory"} 0.75 %d' % self.now_ms()])
        wait_until(lambda: am_alerts(), 15 * SLOW, "the alert in Alertmanager")
        (a,) = am_alerts()
        self.assertEqual(a["labels"]["alertname"], "PoolCapacityWarning")
        self.assertEqual(a["labels"]["pool"], "pam")
        self.assertEqual(a["status"]["state"], "active")
        self.assertIn("summary_zh", a["annotations"])
        self.put(['poolwatch_pool_allocated_ratio{pool="pam",resource="memory"} 0.5 %d' % self.now_ms()])
        wait_until(lambda: not am_alerts(), 15 * SLOW, "the alert resolved in Alertmanager")


if __name__ == "__main__":
    unittest.main()
