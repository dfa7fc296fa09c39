"""End to end on loopback: agent samples, ships, collector stores, CLI reads."""
import json
import os
import subprocess
import unittest

from pwtest import AGENT, CLI, COLLECTOR, FIXTURES, PoolwatchTest, wait_until


class EndToEnd(PoolwatchTest):

    def test_points_flow_and_hosts(self):
        self.collector()
        self.agent()
        # node_load1 from the live /proc of this machine, host label added by the collector
        pts = wait_until(lambda: len(self.points('node_load1{host="h1"}')) >= 3 and
                         self.points('node_load1{host="h1"}'), 20, "3 points of node_load1")
        self.assertTrue(all(isinstance(v, (int, float)) for _, v in pts))
        self.assertEqual(sorted(pts), pts, "points come back in time order")
        cpu = self.query('node_cpu_seconds_total{host="h1",mode="idle"}')
        self.assertGreaterEqual(len(cpu), 1)
        self.assertTrue(all(s["labels"]["mode"] == "idle" for s in cpu))
        hosts = self.hosts()
        agent = [h for h in hosts if h["agent_id"] == "agent"]
        self.assertEqual(len(agent), 1, hosts)
        self.assertEqual(agent[0]["host"], "h1")
        self.assertGreaterEqual(agent[0]["frames"], 3)
        # the collector stores its own counters as series too
        wait_until(lambda: self.points("poolwatch_collector_frames_stored_total"), 10,
                   "collector self metrics")
        table = self.cli("hosts").stdout
        self.assertIn("h1", table)

    def test_query_formats(self):
        self.collector()
        self.agent()
        wait_until(lambda: len(self.points('node_load1{host="h1"}')) >= 2, 20, "points")
        csv = self.cli("query", 'node_load1{host="h1"}', "--from", "-1h", "--format", "csv").stdout
        lines = csv.strip().splitlines()
        self.assertGreaterEqual(len(lines), 3)          # header + 2 points
        self.assertIn("node_load1", lines[1])
        table = self.cli("query", 'node_load1{host="h1"}', "--from", "-1h").stdout
        self.assertIn("node_load1", table)

    def test_cli_errors(self):
        r = subprocess.run([CLI, "--data", os.path.join(self.tmp, "nope"), "hosts"],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nope", r.stderr)
        self.collector()
        r = self.cli("query", "node_load1{host=", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip(), "a bad selector gets a message")

    def test_agent_once_json_from_fixture(self):
        root = os.path.join(FIXTURES, "basic")
        r = subprocess.run([AGENT, "--once", "--format", "json",
                            "--proc-root", os.path.join(root, "proc"),
                            "--sys-root", os.path.join(root, "sys"),
                            "--samplers", "cpu,memory,loadavg,netdev,diskstats,uptime"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        metrics = {s["metric"] for s in doc["samples"]}
        for m in ("node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1",
                  "node_network_receive_bytes_total", "node_disk_read_bytes_total",
                  "node_boot_time_seconds"):
            self.assertIn(m, metrics)
        r = subprocess.run([AGENT, "--once", "--format", "prom", "--samplers", "loadavg",
                            "--proc-root", os.path.join(root, "proc")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^node_load1 [0-9.]+ [0-9]+$")

    def test_bad_options(self):
        for argv in ([AGENT, "--interval", "soon"], [AGENT, "--nope"],
                     [COLLECTOR, "--contexts", "0"], [AGENT, "--once", "--format", "xml"]):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, argv)
            self.assertTrue(r.stderr.strip(), argv)
        for prog in (AGENT, COLLECTOR, CLI):
            r = subprocess.run([prog, "--version"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0)
            self.assertIn("0.1.0", r.stdout)
            r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0)
            self.assertIn("usage", r.stdout.lower())

    def test_config_file(self):
        cfg = os.path.join(self.tmp, "collector.yaml")
        with open(cfg, "w") as f:
            f.write("listen: %s\ndata: %s\nself-interval: 200ms\nhttp: \"off\"\n" % (self.url, self.data))
        from pwtest import Proc
        p = Proc([COLLECTOR, "--config", cfg], os.path.join(self.tmp, "c.log"))
        self.procs.append(p)
        p.wait_log("listening on %s" % self.url)
        with open(cfg, "w") as f:
            f.write("listen: %s\nbogus: 1\n" % self.url)
        r = subprocess.run([COLLECTOR, "--config", cfg], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bogus", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
