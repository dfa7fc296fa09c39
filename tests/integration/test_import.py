"""`poolwatch import`: Prometheus text and VictoriaMetrics JSON files into a data
directory, read back exactly with `poolwatch query`; bad lines, stdin, a large
file, and an import beside a running collector."""
import json
import os
import re
import subprocess
import time
import unittest

from pwtest import CLI, SANITIZER_RX, SLOW, PoolwatchTest, wait_until

SUMMARY_RX = re.compile(r"import: (\d+) lines, (\d+) samples, (\d+) series, (\d+) bad lines, "
                        r"(\d+) staleness markers skipped, [0-9.]+ s, \d+ samples/s \(format (\w+)")


class Import(PoolwatchTest):

    def setUp(self):
        super().setUp()
        # Recent times: a collector's retention must not see the points as old.
        self.t0 = (int(time.time()) - 3600) * 1000

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def imp(self, *args, stdin=None):
        r = subprocess.run([CLI, "--data", self.data, "import", *args], input=stdin,
                           capture_output=True, text=True, timeout=120 * SLOW)
        # a sanitizer build reports on stderr, not always in the exit status
        self.assertIsNone(SANITIZER_RX.search(r.stderr), r.stderr[-4000:])
        return r

    def summary(self, r):
        m = SUMMARY_RX.search(r.stderr)
        self.assertIsNotNone(m, r.stderr)
        lines, samples, series, bad, stale = (int(x) for x in m.groups()[:5])
        return {"lines": lines, "samples": samples, "series": series, "bad": bad,
                "stale": stale, "format": m.group(6)}

    def test_series_count_in_time_order(self):
        # 5000 series, three rounds in time order: the summary's series set
        # grows past its first table and must still count each series once.
        lines = []
        for k in range(3):
            for i in range(5000):
                lines.append('m{i="%d"} %d %d' % (i, k, self.t0 + k * 10000))
        r = self.imp(self.write("many.prom", "\n".join(lines) + "\n"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r)["series"], 5000)
        self.assertEqual(self.summary(r)["samples"], 15000)

    def series(self, selector):
        """{canonical key: points} from `poolwatch query --format json`."""
        return {s["series"]: s["points"] for s in self.query(selector, frm="-1d", to="+1h")}

    def csv_values(self, selector):
        r = self.cli("query", selector, "--from", "-1d", "--to", "+1h", "--format", "csv")
        return [line.rsplit(",", 2)[1:] for line in r.stdout.strip().splitlines()[1:]]

    def test_prom_round_trip(self):
        t = self.t0
        path = self.write("a.prom", "\n".join([
            "# HELP node_load1 1m load average.",
            "# TYPE node_load1 gauge",
            'node_load1{instance="n1",job="node"} 0.25 %d' % t,
            'node_load1{job="node",instance="n1"} 0.5 %d' % (t + 15000),
            "",
            'node_load1{instance="n1",job="node"} 0.1 %d' % (t - 15000),     # older: merged in
            'esc{path="C:\\\\x",q="say \\"hi\\"",nl="a\\nb"} 1 %d' % t,
            "big 123456789012.125 %d" % t,
            "tiny 1e-300 %d" % t,
            "int 9007199254740991 %d" % t,
            "neg -42 %d" % t,
            "nonfinite NaN %d" % t,
            "nonfinite +Inf %d" % (t + 1),
            "nonfinite -Inf %d" % (t + 2),
            "om_seconds 7 %d.5" % (t // 1000),
            "# EOF",
            "",
        ]))
        r = self.imp(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r), {"lines": 16, "samples": 12, "series": 8, "bad": 0,
                                           "stale": 0, "format": "prom"})
        # series as written: sorted labels, no host label added, exact values and times
        got = self.series('node_load1')
        self.assertEqual(got, {'node_load1{instance="n1",job="node"}':
                               [[t - 15000, 0.1], [t, 0.25], [t + 15000, 0.5]]})
        got = self.series('esc')
        self.assertEqual(got, {'esc{nl="a\\nb",path="C:\\\\x",q="say \\"hi\\""}': [[t, 1]]})
        esc = self.query('esc', frm="-1d", to="+1h")[0]
        self.assertEqual(esc["labels"], {"nl": "a\nb", "path": "C:\\x", "q": 'say "hi"'})
        self.assertEqual(self.series('big')['big'], [[t, 123456789012.125]])
        self.assertEqual(self.series('tiny')['tiny'], [[t, 1e-300]])
        self.assertEqual(self.series('int')['int'], [[t, 9007199254740991]])
        self.assertEqual(self.series('neg')['neg'], [[t, -42]])
        self.assertEqual(self.series('om_seconds')['om_seconds'], [[t - t % 1000 + 500, 7]])
        self.assertEqual(self.csv_values('nonfinite'),
                         [[str(t), "NaN"], [str(t + 1), "+Inf"], [str(t + 2), "-Inf"]])

    def test_promtool_dump(self):
        # `promtool tsdb dump` writes the name as label __name__, ", " between labels, %g values
        t = self.t0
        path = self.write("dump.txt", "".join([
            '{__name__="up", instance="localhost:9090", job="prometheus"} 1 %d\n' % t,
            '{__name__="up", instance="localhost:9090", job="prometheus"} 0 %d\n' % (t + 15000),
            '{__name__="go_memstats_alloc_bytes", job="prometheus"} 1.2345678e+07 %d\n' % t,
        ]))
        r = self.imp(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r)["format"], "prom")
        self.assertEqual(self.series('up'), {'up{instance="localhost:9090",job="prometheus"}':
                                             [[t, 1], [t + 15000, 0]]})
        self.assertEqual(self.series('go_memstats_alloc_bytes'),
                         {'go_memstats_alloc_bytes{job="prometheus"}': [[t, 12345678]]})

    def test_default_time(self):
        t = self.t0 - self.t0 % 1000
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t / 1000))
        path = self.write("nots.prom", "no_ts 1\nwith_ts 2 %d\n" % (t + 5))
        r = self.imp(path, "--default-time", iso)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.series('no_ts')['no_ts'], [[t, 1]])
        self.assertEqual(self.series('with_ts')['with_ts'], [[t + 5, 2]])
        # the default: now, taken once when the import starts
        before = int(time.time() * 1000)
        r = self.imp(self.write("now.prom", "now_a 1\nnow_b 2\n"))
        after = int(time.time() * 1000)
        self.assertEqual(r.returncode, 0, r.stderr)
        (ta, _), = self.series('now_a')['now_a']
        (tb, _), = self.series('now_b')['now_b']
        self.assertEqual(ta, tb)
        self.assertTrue(before <= ta <= after, (before, ta, after))

    def test_vm_round_trip(self):
        t = self.t0
        lines = [
            {"metric": {"__name__": "up", "job": "node", "instance": "h:9100"},
             "values": [1, 0, 1], "timestamps": [t, t + 15000, t + 30000]},
            # null / "NaN" are staleness markers in an export: skipped and counted
            {"metric": {"__name__": "rate", "host": "h1", "empty": ""},
             "values": ["Infinity", None, "-Infinity", 0.1, "NaN"],
             "timestamps": [t, t + 1, t + 2, t + 3, t + 4]},
            {"metric": {"__name__": "hist"}, "values": [2.5, 1.5], "timestamps": [t, t - 60000]},
        ]
        path = self.write("a.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
        r = self.imp(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r), {"lines": 3, "samples": 8, "series": 3, "bad": 0,
                                           "stale": 2, "format": "vm"})
        self.assertEqual(self.series('up'), {'up{instance="h:9100",job="node"}':
                                             [[t, 1], [t + 15000, 0], [t + 30000, 1]]})
        self.assertEqual(self.csv_values('rate'),
                         [[str(t), "+Inf"], [str(t + 2), "-Inf"], [str(t + 3), "0.1"]])
        self.assertEqual(self.series('hist')['hist'], [[t - 60000, 1.5], [t, 2.5]])

    def test_bad_lines_reported_good_kept(self):
        t = self.t0
        rows = []
        for i in range(60):
            if i % 2 == 0:
                rows.append('good{i="%d"} %d %d' % (i, i, t))
            else:
                rows.append('bad{i="%d" %d %d' % (i, i, t))         # no closing brace
        rows.insert(3, "secs 1 %d" % (t // 1000))                   # line 4
        rows.append("x" * (70 * 1024) + " 1")                       # line 62: too long
        rows.append("after 1 %d" % t)                               # line 63: still read
        r = self.imp(self.write("mixed.prom", "\n".join(rows) + "\n"))
        self.assertEqual(r.returncode, 4, r.stderr)
        s = self.summary(r)
        self.assertEqual((s["lines"], s["samples"], s["bad"]), (63, 31, 32))
        # the first 20 in full, with their line numbers, then a count
        shown = re.findall(r"poolwatch: import: line (\d+): (.*)", r.stderr)
        self.assertEqual(len(shown), 20)
        self.assertEqual([int(n) for n, _ in shown][:5], [2, 4, 5, 7, 9])
        self.assertEqual(shown[0][1], 'expected "," or "}" after the value of label "i" '
                                      'at column 11')
        self.assertEqual(shown[1][1], "timestamp %d is before the year 2000 in milliseconds; "
                                      "it looks like seconds (the Prometheus text format counts "
                                      "milliseconds)" % (t // 1000))
        self.assertIn("poolwatch: import: 12 more bad lines not shown\n", r.stderr)
        good = self.series('good')
        self.assertEqual(len(good), 30)
        self.assertEqual(good['good{i="58"}'], [[t, 58]])
        self.assertEqual(self.series('after')['after'], [[t, 1]])
        self.assertEqual(self.series('bad'), {})

    def test_line_too_long_message(self):
        t = self.t0
        r = self.imp(self.write("long.prom", "ok 1 %d\nlong{a=\"%s\"} 1\nok2 2 %d\n"
                                % (t, "v" * (2 << 20), t)))
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("import: line 2: line is longer than 65536 bytes", r.stderr)
        self.assertEqual(self.series('ok2')['ok2'], [[t, 2]])

    def test_stdin(self):
        t = self.t0
        text = "from_stdin{a=\"1\"} 3.5 %d\nfrom_stdin{a=\"2\"} 4.5 %d\n" % (t, t)
        r = self.imp("-", stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.series('from_stdin'), {'from_stdin{a="1"}': [[t, 3.5]],
                                                     'from_stdin{a="2"}': [[t, 4.5]]})
        vm = json.dumps({"metric": {"__name__": "vm_stdin"}, "values": [1], "timestamps": [t]})
        r = self.imp("-", "--format", "vm", stdin="\n\n" + vm + "\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.series('vm_stdin')['vm_stdin'], [[t, 1]])

    def test_200k_samples(self):
        t = self.t0
        path = os.path.join(self.tmp, "big.prom")
        with open(path, "w") as f:
            for i in range(2000):
                for s in range(100):
                    f.write('bulk{host="h%d",dev="sd%d"} %d.5 %d\n' % (s % 10, s, i, t + i * 1000))
        r = self.imp(path, "--batch", "30000")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r), {"lines": 200000, "samples": 200000, "series": 100,
                                           "bad": 0, "stale": 0, "format": "prom"})
        got = self.series('bulk')
        self.assertEqual(len(got), 100)
        self.assertEqual(sum(len(p) for p in got.values()), 200000)
        self.assertEqual(got['bulk{dev="sd42",host="h2"}'][:2], [[t, 0.5], [t + 1000, 1.5]])
        self.assertEqual(got['bulk{dev="sd42",host="h2"}'][-1], [t + 1999000, 1999.5])

    def test_while_collector_runs(self):
        col = self.collector()
        self.agent()
        wait_until(lambda: self.points('node_load1{host="h1"}'), 20, "agent points")
        t = self.t0
        path = os.path.join(self.tmp, "live.prom")
        with open(path, "w") as f:
            for i in range(20000):
                f.write('live{k="%d"} %d %d\n' % (i % 50, i, t + i))
        # small batches: many write txns interleaved with the collector's
        r = self.imp(path, "--batch", "500")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r)["samples"], 20000)
        got = self.series('live')
        self.assertEqual(sum(len(p) for p in got.values()), 20000)
        self.assertEqual(got['live{k="7"}'][0], [t + 7, 7])
        # the collector went on storing, and stops cleanly (checked by stop())
        n = len(self.points('node_load1{host="h1"}'))
        wait_until(lambda: len(self.points('node_load1{host="h1"}')) > n, 20, "more agent points")
        self.assertNotIn("error", col.text().lower())
        col.stop()

    def test_usage_and_data_errors(self):
        f = self.write("ok.prom", "m 1 %d\n" % self.t0)
        for args, msg in ((["import"], "a FILE is needed"),
                          (["import", f, f], "one FILE only"),
                          (["import", os.path.join(self.tmp, "nope")], "cannot open"),
                          (["import", f, "--format", "csv"], "--format must be auto, prom or vm"),
                          (["import", f, "--batch", "0"], "--batch must be between"),
                          (["import", f, "--default-time", "soon"], "--default-time"),
                          (["import", f, "--bogus"], "unknown option")):
            r = subprocess.run([CLI, "--data", self.data, *args], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(msg, r.stderr)
        r = self.imp(self.write("weird.txt", "[1,2,3]\n"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot tell the format", r.stderr)
        # a data directory that cannot be created
        r = subprocess.run([CLI, "--data", os.path.join(f, "sub"), "import", f],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = subprocess.run([CLI, "import", "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertIn("exit status", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
