"""`poolwatch --api URL` (collector/README.md, "Against the HTTP API"): query,
hosts and audit export through a collector's HTTP API give what the same
commands give on its data directory; the token's role and tenant apply;
refused tokens, bad queries and an unreachable collector exit as documented;
the commands that need the data directory refuse --api.

Data comes from `poolwatch import` (series) and a short-lived agent (hosts);
tokens from `poolwatch token create`."""
import json
import os
import subprocess
import time
import unittest

from pwtest import CLI, SLOW, PoolwatchTest, free_port, wait_until


class CliApiTest(PoolwatchTest):

    def setUp(self):
        super().setUp()
        self.http_port = free_port()
        self.api_url = "http://127.0.0.1:%d" % self.http_port
        # Absolute times, so the local and the API call ask for the same range.
        self.t0 = (int(time.time()) // 60) * 60 - 3600
        self.frm, self.to = str(self.t0 - 60), str(self.t0 + 1900)
        lines = []
        for i in range(31):
            ts = (self.t0 + 60 * i) * 1000 + 250
            lines += [
                'up{tenant="a",host="a1"} 1 %d' % ts,
                'up{tenant="b",host="b1"} 0 %d' % ts,
                'node_load1{tenant="a",host="a1"} %s %d' % (i / 10, ts),
                'node_load1{host="shared"} 0.1 %d' % ts,
                'odd{tenant="a"} NaN %d' % ts,
            ]
        seed = os.path.join(self.tmp, "seed.prom")
        with open(seed, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.cli("import", seed)
        self.tok = {}
        for role, extra in (("admin", []), ("operator", []), ("tenant", ["--tenant", "a"])):
            path = os.path.join(self.tmp, role + ".token")
            with open(path, "w") as f:
                f.write(self.cli("token", "create", "--role", role, *extra).stdout)
            os.chmod(path, 0o600)
            self.tok[role] = path
        self.coll = self.collector("--http", "127.0.0.1:%d" % self.http_port)
        self.coll.wait_log(r"HTTP API on http://")

    def api(self, *args, role="admin", check=True, env=None):
        """poolwatch --api URL --token-file <role's> ARGS (no --data: nothing local is read)."""
        argv = [CLI, "--api", self.api_url]
        if role is not None:
            argv += ["--token-file", self.tok[role]]
        r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60 * SLOW,
                           env=env)
        if check and r.returncode != 0:
            raise AssertionError("poolwatch --api %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r

    def both(self, *args):
        return self.cli(*args).stdout, self.api(*args).stdout

    def test_query_same_as_local(self):
        rng = ["--from", self.frm, "--to", self.to]
        for fmt in ("json", "csv", "table"):
            # stored points of a bare selector
            local, api = self.both("query", "up", *rng, "--format", fmt)
            self.assertEqual(local, api, fmt)
            # range queries: values at the same (aligned) step timestamps
            local, api = self.both("query", "sum by (tenant) (rate(node_load1[5m]))", *rng,
                                   "--step", "2m", "--format", fmt)
            self.assertEqual(local, api, fmt)
        local, api = self.both("query", "node_load1", *rng, "--step", "5m", "--format", "json")
        self.assertEqual(json.loads(local), json.loads(api))
        series = json.loads(api)
        self.assertEqual([s["series"] for s in series],
                         ['node_load1{host="a1",tenant="a"}', 'node_load1{host="shared"}'])
        # at the step timestamps: aligned to 5 minutes, as locally
        self.assertTrue(all(p[0] % 300000 == 0 for p in series[0]["points"]))
        # a bare selector keeps the stored timestamps (…250 ms), every one of them
        raw = json.loads(self.api("query", "node_load1", *rng, "--format", "json").stdout)
        self.assertEqual(len(raw[0]["points"]), 31)
        self.assertTrue(all(p[0] % 1000 == 250 for p in raw[0]["points"]))
        # NaN as locally: null in JSON
        local, api = self.both("query", "odd", *rng, "--format", "json")
        self.assertEqual(local, api)
        self.assertIsNone(json.loads(api)[0]["points"][0][1])
        # nothing matched: same empty outputs
        self.assertEqual(self.both("query", "nothing_here", *rng, "--format", "json"),
                         ("[\n]\n", "[\n]\n"))

    def test_tenant_scope(self):
        rng = ["--from", self.frm, "--to", self.to, "--format", "json"]
        for q in ('{__name__=~".+"}', 'up{tenant="b"}', 'count by (tenant) ({__name__=~".+"})'):
            out = json.loads(self.api("query", q, *rng, role="tenant").stdout)
            for s in out:
                self.assertIn(s["labels"].get("tenant"), ("a", None), (q, s))
            self.assertNotIn('tenant="b"', json.dumps(out))
        mine = json.loads(self.api("query", '{__name__=~".+"}', *rng, role="tenant").stdout)
        self.assertEqual(sorted(s["series"] for s in mine),
                         ['node_load1{host="a1",tenant="a"}', 'odd{tenant="a"}',
                          'up{host="a1",tenant="a"}'])
        r = self.api("hosts", role="tenant", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("403", r.stderr)

    def test_hosts_same_as_local(self):
        a = self.agent(host="h1")
        wait_until(lambda: self.hosts() and self.hosts()[0]["samples"] > 0, 10, "agent stored")
        a.stop()
        # the collector reports its own metrics as an agent too, still running: left out
        local, api = self.both("hosts", "--format", "json")
        local = [h for h in json.loads(local) if h["agent_id"] == "agent"]
        api = [h for h in json.loads(api) if h["agent_id"] == "agent"]
        for h in local + api:
            h.pop("age_ms")         # measured at each call
        self.assertEqual(len(api), 1)
        self.assertEqual(local, api)
        self.assertEqual(api[0]["host"], "h1")
        local, api = self.both("hosts", "--format", "csv")
        self.assertEqual(local.splitlines()[0], api.splitlines()[0])
        cut = lambda text: [l.split(",") for l in text.splitlines() if ",agent," in l]
        self.assertEqual(len(cut(api)), 1)
        self.assertEqual([r[:5] + r[6:] for r in cut(local)], [r[:5] + r[6:] for r in cut(api)])
        self.assertRegex(self.api("hosts").stdout, r"(?m)^h1 +agent ")

    def test_audit_export(self):
        self.api("hosts")
        self.api("query", "up", "--from", self.frm, "--to", self.to, role="tenant")
        to_ms = str(int(time.time() * 1000))
        time.sleep(0.05)
        for fmt in ("json", "csv"):
            local, api = self.both("audit", "export", "--to", to_ms, "--format", fmt)
            self.assertEqual(local, api, fmt)
        recs = json.loads(self.api("audit", "export", "--to", to_ms, "--format", "json").stdout)
        actions = [r["action"] for r in recs]
        self.assertIn("GET /api/v1/hosts", actions)
        self.assertIn("POST /api/v1/query", actions)
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        # without --to: up to the server's now, including the exports made so far
        recs = json.loads(self.api("audit", "export", "--format", "json").stdout)
        self.assertIn("GET /api/v1/audit", [r["action"] for r in recs])
        # the operator does not read the log
        r = self.api("audit", "export", role="operator", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("role operator may not", r.stderr)

    def test_errors(self):
        # no token at all
        env = {k: v for k, v in os.environ.items() if k != "POOLWATCH_TOKEN"}
        r = self.api("hosts", role=None, check=False, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("needs a token", r.stderr)
        # the environment variable works
        with open(self.tok["admin"]) as f:
            env["POOLWATCH_TOKEN"] = f.read().strip()
        self.assertEqual(self.api("hosts", "--format", "json", role=None, env=env).stdout, "[]\n")
        # a bad token: the server's text, exit 1
        bad = os.path.join(self.tmp, "bad.token")
        with open(bad, "w") as f:
            f.write("pwt_000000000000_" + "A" * 43 + "\n")
        os.chmod(bad, 0o600)
        self.tok["bad"] = bad
        r = self.api("query", "up", role="bad", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("invalid, expired or revoked token", r.stderr)
        # a bad query: Prometheus' error string, exit 1
        r = self.api("query", "rate(up", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("unexpected end of input", r.stderr)
        self.assertIn("HTTP 400", r.stderr)
        r = self.api("query", "up", "--res", "1h", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        # commands that need the data directory
        for args in (["token", "create", "--role", "admin"], ["token", "list"],
                     ["import", os.path.join(self.tmp, "x.prom")], ["audit", "verify"]):
            r = self.api(*args, check=False)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn("--data", r.stderr)
        r = subprocess.run([CLI, "--token-file", self.tok["admin"], "hosts"], capture_output=True,
                           text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 1, r.stderr)
        # a stopped collector: exit 2
        self.coll.stop()
        r = self.api("hosts", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot connect", r.stderr)


if __name__ == "__main__":
    unittest.main()
