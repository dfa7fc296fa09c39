"""pwtest - helpers for poolwatch integration tests.

Real processes on loopback only (127.0.0.1), each test in its own temp dir.
Waiting is always for an event - a log line, a query result, a file state -
with a deadline, never a bare sleep.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("PW_BUILD", os.path.join(os.path.dirname(__file__), "../../build/default"))
AGENT = os.path.join(BUILD, "agent", "poolwatch-agent")
COLLECTOR = os.path.join(BUILD, "collector", "poolwatch-collector")
CLI = os.path.join(BUILD, "collector", "poolwatch")
FIXTURES = os.environ.get("PW_FIXTURES", os.path.join(os.path.dirname(__file__), "../fixtures"))
# Sanitizer builds run several times slower: scale deadlines, not assertions.
SLOW = 4 if "asan" in BUILD else 1


SANITIZER_RX = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehavior")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns a truthy value; fails after timeout s."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout * SLOW, what))
        time.sleep(interval)


def thread_stacks(pid):
    """Every thread's stack of a process that hangs, for the failure message."""
    if shutil.which("gdb") is None:
        return "(no gdb to show them)"
    try:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=60)
        return r.stdout[-20000:] + r.stderr[-2000:]
    except (subprocess.TimeoutExpired, OSError) as e:
        return "(gdb failed: %s)" % e


class Proc:
    """A poolwatch process with its stderr in a file we can wait on."""

    def __init__(self, argv, logpath):
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)

        def seen():
            if self.p.poll() is not None and len(rx.findall(self.text())) < count:
                raise AssertionError("%s exited (%s) before logging %r:\n%s"
                                     % (self.argv[0], self.p.returncode, pattern, self.text()))
            m = rx.findall(self.text())
            return m if len(m) >= count else None
        return wait_until(seen, timeout, "log %r from %s" % (pattern, os.path.basename(self.argv[0])))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process; a clean shutdown (exit 0) is part of every test."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                threads = thread_stacks(self.p.pid)
                self.kill9()
                raise AssertionError("%s did not exit within %ss of signal %d; its threads were:\n%s\n"
                                     "log:\n%s" % (self.argv[0], timeout * SLOW, sig, threads,
                                                   self.text()[-3000:]))
        self.log.close()
        if sig in (signal.SIGTERM, signal.SIGINT) and self.p.returncode != 0:
            raise AssertionError("%s exited %d on SIGTERM:\n%s"
                                 % (self.argv[0], self.p.returncode, self.text()[-3000:]))
        return self.p.returncode

    def kill9(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


class PoolwatchTest(unittest.TestCase):
    """Gives each test a temp dir, a free port and process bookkeeping."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pwit-")
        self.port = free_port()
        self.url = "tcp://127.0.0.1:%d" % self.port
        self.data = os.path.join(self.tmp, "data")
        self.procs = []
        # Proc keeps its log file open; closing it here keeps unittest quiet.
        self.addCleanup(lambda: [p.log.close() for p in self.procs])

    def tearDown(self):
        # Processes still running are stopped the normal way, so a sanitizer
        # build also reports leaks and errors at their exit.
        for p in self.procs:
            if p.p.poll() is None:
                p.p.send_signal(signal.SIGTERM)
                try:
                    p.p.wait(timeout=10 * SLOW)
                except subprocess.TimeoutExpired:
                    p.p.kill()
                    p.p.wait()
        reports = []
        for p in self.procs:
            text = p.text()
            if SANITIZER_RX.search(text):
                reports.append("%s:\n%s" % (p.logpath, text[-4000:]))
        subprocess.run(["rm", "-rf", self.tmp])
        if reports:
            self.fail("sanitizer report in a process log:\n" + "\n".join(reports))

    def collector(self, *extra, name="collector"):
        # --http off: tests that want the API start it on a free port themselves.
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--self-interval", "200ms",
                  "--http", "off", *extra], os.path.join(self.tmp, name + ".log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)
        return p

    def agent(self, *extra, name="agent", spool=None, host="h1", log=None):
        """Starts an agent with agent id `name`; its log is `log` (default name).log."""
        spool = spool or os.path.join(self.tmp, name + "-spool")
        p = Proc([AGENT, "--collector", self.url, "--interval", "100ms", "--spool", spool,
                  "--agent-id", name, "--hostname", host, "--backoff-max", "300ms",
                  "--timeout", "2s", *extra], os.path.join(self.tmp, (log or name) + ".log"))
        self.procs.append(p)
        p.wait_log(r"agent %s \(boot" % re.escape(name), timeout=10)
        return p

    def cli(self, *args, check=True):
        r = subprocess.run([CLI, "--data", self.data, *args], capture_output=True, text=True,
                           timeout=60 * SLOW)
        if check and r.returncode != 0:
            raise AssertionError("poolwatch %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r

    def query(self, selector, frm="-1h", to="+1h"):
        """Series as returned by `poolwatch query --format json`."""
        r = self.cli("query", selector, "--from", frm, "--to", to, "--format", "json", check=False)
        if r.returncode != 0:
            return []
        return json.loads(r.stdout)

    def points(self, selector):
        out = []
        for s in self.query(selector):
            out.extend(s["points"])
        return out

    def hosts(self):
        return json.loads(self.cli("hosts", "--format", "json").stdout)


class ApiCollectorTest(PoolwatchTest):
    """A collector with its HTTP API on a free port and a config file of the test's own
    (self.config, written with write_config); tokens, imports and API calls."""

    def setUp(self):
        super().setUp()
        self.http_port = free_port()
        self.config = os.path.join(self.tmp, "collector.yaml")

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start_api_collector(self, *extra, name="collector"):
        p = Proc([COLLECTOR, "--listen", self.url, "--data", self.data, "--self-interval", "1s",
                  "--http", "127.0.0.1:%d" % self.http_port, "--config", self.config, *extra],
                 os.path.join(self.tmp, name + ".log"))
        self.procs.append(p)
        p.wait_log(r"listening on", timeout=10)
        return p

    def put(self, lines):
        """Stores Prometheus text lines with `poolwatch import`."""
        path = os.path.join(self.tmp, "in-%d.prom" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.cli("import", path)

    def token(self, *args):
        os.makedirs(self.data, exist_ok=True)
        return self.cli("token", "create", *args).stdout.strip()

    @staticmethod
    def now_ms():
        return int(time.time() * 1000)

    def http(self, method, path, token, body=None, ctype="application/json"):
        """(status, headers by lower-case name, body bytes); a body not bytes or str goes as JSON."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30 * SLOW)
        hdrs = {"Authorization": "Bearer " + token}
        if body is not None:
            hdrs["Content-Type"] = ctype
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()
