"""The Grafana dashboards (dashboards/grafana/*.json) against a seeded collector.

Every dashboard must be importable into Grafana 10+ (schemaVersion, the
DS_PROMETHEUS input, every panel and target on ${DS_PROMETHEUS}), every template
variable's label_values() must list the seeded value, and every panel query -
with the variables substituted by seeded values and Grafana's $__rate_interval
by 5m - must return a non-empty result from /api/v1/query_range (time series)
or /api/v1/query (the rest), as Grafana's Prometheus data source would ask.

Seed: `poolwatch import` of two hypervisor hosts with three VMs (one pool,
pool-a, from the collector's config), their usage counters over the last two
hours, and the collector's capacity thread for the pool series.
"""
import glob
import http.client
import json
import os
import re
import time
import urllib.parse

from pwtest import COLLECTOR, SLOW, PoolwatchTest, Proc, free_port, wait_until

GRAFANA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dashboards", "grafana")
GiB, TiB = 1 << 30, 1 << 40
VALUES = {"pool": "pool-a", "host": "hv1", "vm": "web-01", "tenant": "unit-a"}
VMS = [("web-01", "hv1", 16, 64, "unit-a"), ("db-01", "hv1", 32, 192, "unit-b"),
       ("app-01", "hv2", 24, 128, "unit-b")]


class Grafana(PoolwatchTest):

    def seed(self):
        now = int(time.time())
        lines = []
        for i, ts in enumerate(range(now - 7200, now + 1800, 30)):
            ms, el = ts * 1000, i * 30
            for h in ("hv1", "hv2"):
                lines += [
                    'poolwatch_host_cpu_threads{host="%s"} 32 %d' % (h, ms),
                    'poolwatch_node_cpus{host="%s"} 32 %d' % (h, ms),
                    'poolwatch_host_memory_bytes{host="%s"} %d %d' % (h, 256 * GiB, ms),
                    'node_memory_MemTotal_bytes{host="%s"} %d %d' % (h, 256 * GiB, ms),
                    'node_memory_MemAvailable_bytes{host="%s"} %d %d' % (h, 128 * GiB, ms),
                    'poolwatch_host_storage_pool_capacity_bytes{host="%s",pool="default"} %d %d' % (h, 10 * TiB, ms),
                    'poolwatch_host_storage_pool_allocation_bytes{host="%s",pool="default"} %d %d' % (h, 3 * TiB, ms),
                    'poolwatch_host_nic_speed_bytes{host="%s",device="eno1"} 1250000000 %d' % (h, ms),
                    'poolwatch_node_cpu_seconds_total{host="%s",mode="user"} %d %d' % (h, 8 * el, ms),
                    'poolwatch_node_cpu_seconds_total{host="%s",mode="idle"} %d %d' % (h, 24 * el, ms),
                    'node_network_receive_bytes_total{host="%s",device="eno1"} %d %d' % (h, 10 ** 8 * el, ms),
                    'node_network_transmit_bytes_total{host="%s",device="eno1"} %d %d' % (h, 10 ** 7 * el, ms),
                    'node_disk_read_bytes_total{host="%s",device="sda"} %d %d' % (h, 5 * 10 ** 6 * el, ms),
                    'node_disk_written_bytes_total{host="%s",device="sda"} %d %d' % (h, 2 * 10 ** 6 * el, ms),
                ]
            for n, (name, host, vcpus, mem, tenant) in enumerate(VMS):
                lab = 'host="%s",vm="0a000000-0000-4000-8000-00000000000%d",vm_name="%s"' % (host, n, name)
                use = lab + ',tenant="%s"' % tenant
                lines += [
                    "poolwatch_vm_info{%s} 1 %d" % (lab, ms),
                    "poolwatch_vm_vcpus{%s} %d %d" % (lab, vcpus, ms),
                    "poolwatch_vm_memory_max_bytes{%s} %d %d" % (lab, mem * GiB, ms),
                    'poolwatch_vm_disk_capacity_bytes{%s,device="vda"} %d %d' % (lab, TiB, ms),
                    "poolwatch_vm_cpu_seconds_total{%s} %d %d" % (use, vcpus // 4 * el, ms),
                    "poolwatch_vm_balloon_available_bytes{%s} %d %d" % (use, mem * GiB, ms),
                    "poolwatch_vm_balloon_unused_bytes{%s} %d %d" % (use, mem * GiB // 2, ms),
                    'poolwatch_vm_network_receive_bytes_total{%s,device="vnet0"} %d %d' % (use, 10 ** 6 * el, ms),
                    'poolwatch_vm_network_transmit_bytes_total{%s,device="vnet0"} %d %d' % (use, 5 * 10 ** 5 * el, ms),
                    'poolwatch_vm_disk_read_bytes_total{%s,device="vda"} %d %d' % (use, 3 * 10 ** 5 * el, ms),
                    'poolwatch_vm_disk_written_bytes_total{%s,device="vda"} %d %d' % (use, 10 ** 5 * el, ms),
                ]
        path = os.path.join(self.tmp, "seed.prom")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.makedirs(self.data, exist_ok=True)
        self.cli("import", path)

    def get(self, path, params):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30 * SLOW)
        try:
            # POST with a form body: how Grafana's Prometheus data source asks by default.
            c.request("POST", path, body=urllib.parse.urlencode(params),
                      headers={"Authorization": "Bearer " + self.tok,
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            body = json.loads(r.read())
            return r.status, body
        finally:
            c.close()

    def test_every_panel_has_data(self):
        self.seed()
        self.tok = self.cli("token", "create", "--role", "auditor", "--name", "grafana").stdout.strip()
        config = os.path.join(self.tmp, "collector.yaml")
        with open(config, "w") as f:
            f.write("pools:\n  - name: pool-a\n    hosts: [hv1, hv2]\n    cpu_overcommit: 2\n")
        self.http_port = free_port()
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--http",
                  "127.0.0.1:%d" % self.http_port, "--capacity-interval", "300ms", "--config", config],
                 os.path.join(self.tmp, "collector.log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)
        # Two capacity passes: the ratios, then a forecast ("0 days" for memory allocated at 75 %).
        wait_until(lambda: self.get("/api/v1/query", {"query": "poolwatch_pool_days_to_threshold"})[1]
                   ["data"]["result"], 30, "the pool series and a forecast")

        files = sorted(glob.glob(os.path.join(GRAFANA, "*.json")))
        self.assertEqual({os.path.basename(f) for f in files},
                         {"fleet-overview.json", "pool-capacity.json", "host-detail.json",
                          "vm-detail.json", "using-unit.json"})
        now = time.time()
        checked = 0
        for path in files:
            name = os.path.basename(path)
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            # Importable: Grafana 10's schema, the data source as an input of the import.
            self.assertGreaterEqual(d["schemaVersion"], 36, name)
            self.assertEqual([i["name"] for i in d["__inputs"]], ["DS_PROMETHEUS"], name)
            self.assertEqual(d["__inputs"][0]["pluginId"], "prometheus", name)
            self.assertTrue(d["uid"] and d["title"], name)
            ids = [p["id"] for p in d["panels"]]
            self.assertEqual(len(ids), len(set(ids)), name)
            # Variables: label_values(metric, label) lists the seeded value.
            subst = {"$__rate_interval": "5m", "$__interval": "1m"}
            for v in d["templating"]["list"]:
                self.assertEqual(v["datasource"]["uid"], "${DS_PROMETHEUS}", name)
                m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", v["query"]["query"])
                self.assertIsNotNone(m, (name, v["query"]))
                st, body = self.get("/api/v1/series", {"match[]": m.group(1), "start": now - 3600, "end": now})
                self.assertEqual(st, 200, body)
                seen = {s.get(m.group(2)) for s in body["data"]}
                self.assertIn(VALUES[v["name"]], seen, (name, v["name"], seen))
                subst["$" + v["name"]] = VALUES[v["name"]]
            for panel in d["panels"]:
                self.assertEqual(panel["datasource"]["uid"], "${DS_PROMETHEUS}", (name, panel["title"]))
                self.assertTrue(panel["targets"], (name, panel["title"]))
                for t in panel["targets"]:
                    self.assertEqual(t["datasource"]["uid"], "${DS_PROMETHEUS}")
                    expr = t["expr"]
                    for k in sorted(subst, key=len, reverse=True):
                        expr = expr.replace(k, subst[k])
                    self.assertNotIn("$", expr, (name, panel["title"], expr))
                    what = (name, panel["title"], expr)
                    if t.get("range"):
                        st, body = self.get("/api/v1/query_range", {
                            "query": expr, "start": int(now - 3600), "end": int(now) + 60, "step": 60})
                    else:
                        st, body = self.get("/api/v1/query", {"query": expr, "time": now})
                    self.assertEqual(st, 200, (what, body))
                    result = body["data"]["result"]
                    self.assertTrue(result, ("no data", what))
                    if t.get("range"):
                        self.assertTrue(any(s["values"] for s in result), ("no points", what))
                    checked += 1
        self.assertGreaterEqual(checked, 30)


if __name__ == "__main__":
    import unittest
    unittest.main()
