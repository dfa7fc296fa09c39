"""The collector's byte budget for frames in flight (--max-inflight-bytes, collector/ingest.c).

The writer is held still by taking LMDB's write lock from this process (liblmdb
through ctypes, the same library the collector uses): frames the collector takes
then stay in memory, and the budget alone decides which ones it takes. Every
wait is for an event (an ack, a counter on /metrics, a log line), with a deadline.
"""
import ctypes
import ctypes.util
import http.client
import re
import select
import struct
import subprocess
import time
import unittest

import msgpack

import sp
from pwtest import COLLECTOR, SLOW, PoolwatchTest, free_port, wait_until

STORED, DUPLICATE, RETRY = 0, 1, 2
MIB = 1 << 20

# A frame of NSERIES series and GROUPS timestamp groups of small integer values:
# 2 bytes a sample on the wire, 24 decoded, so what the collector holds is
# mostly the decoded frame (the size the budget counts).
NSERIES, GROUPS = 16, 1000
METRIC = "budget_test_value"
PW_LABEL_SIZE, PW_SERIES_SIZE, PW_SAMPLE_SIZE = 16, 24, 24   # wire.h, series.h on LP64


def frame(agent, t0_ms):
    """(msgpack bytes, decoded bytes as collector/ingest.c counts them) of seq 1 of `agent`."""
    series = [[METRIC, "agent", agent, "s", str(i)] for i in range(NSERIES)]
    groups = []
    for g in range(GROUPS):
        grp = [t0_ms + g * 1000]
        for i in range(NSERIES):
            grp += [i, (g + i) % 100]
        groups.append(grp)
    body = msgpack.packb({"v": 1, "agent": agent, "boot": agent.encode().ljust(16, b"-")[:16],
                          "seq": 1, "ts": t0_ms + GROUPS * 1000, "host": agent,
                          "series": series, "samples": groups}, use_bin_type=True)
    # the dictionary block: per series a count byte, then NUL-terminated strings
    dict_len = sum(1 + sum(len(x.encode()) + 1 for x in s) for s in series)
    nlabels = sum((len(s) - 1) // 2 for s in series)
    decoded = (dict_len + NSERIES * PW_SERIES_SIZE + nlabels * PW_LABEL_SIZE
               + NSERIES * GROUPS * PW_SAMPLE_SIZE)
    return body, decoded


class Sender(sp.ReqClient):
    """One agent's connection: a request sent now, its reply read when it comes."""

    def send(self, body):
        self.rid = self.next_id
        self.next_id += 1
        payload = struct.pack(">I", self.rid) + body
        self.s.sendall(struct.pack(">Q", len(payload)) + payload)

    def reply(self):
        n = struct.unpack(">Q", self._recv_exact(8))[0]
        reply = self._recv_exact(n)
        if struct.unpack(">I", reply[:4])[0] != self.rid:
            raise IOError("reply for another request")
        return msgpack.unpackb(reply[4:], raw=False)


def replies(senders, count, timeout):
    """Acks of the first `count` senders to answer, as {sender: ack}; waits with select."""
    got = {}
    deadline = time.monotonic() + timeout * SLOW
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%d of %d acks after %ss" % (len(got), count, timeout * SLOW))
        ready, _, _ = select.select([s.s for s in senders if s not in got], [], [], left)
        for s in senders:
            if s.s in ready:
                got[s] = s.reply()
    return got


class LmdbWriteLock:
    """Holds the write lock of the LMDB environment in `path` until release()."""
    MDB_NOTLS, MDB_MAP_RESIZED = 0x200000, -30785

    def __init__(self, path):
        lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")
        lib.mdb_env_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.mdb_env_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
        lib.mdb_env_set_mapsize.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.mdb_txn_begin.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint,
                                      ctypes.POINTER(ctypes.c_void_p)]
        lib.mdb_txn_abort.argtypes = [ctypes.c_void_p]
        lib.mdb_env_close.argtypes = [ctypes.c_void_p]
        self.lib, self.env, self.txn = lib, ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.mdb_env_create(ctypes.byref(self.env)), "mdb_env_create")
        self._check(lib.mdb_env_open(self.env, path.encode(), self.MDB_NOTLS, 0o640), "mdb_env_open")
        for _ in range(3):
            # the collector may grow the map between our open and our begin
            rc = lib.mdb_txn_begin(self.env, None, 0, ctypes.byref(self.txn))
            if rc != self.MDB_MAP_RESIZED:
                break
            lib.mdb_env_set_mapsize(self.env, 0)
        self._check(rc, "mdb_txn_begin")

    def _check(self, rc, what):
        if rc != 0:
            self.release()
            raise AssertionError("%s failed: %d" % (what, rc))

    def release(self):
        if self.txn:
            self.lib.mdb_txn_abort(self.txn)
            self.txn = ctypes.c_void_p()
        if self.env:
            self.lib.mdb_env_close(self.env)
            self.env = ctypes.c_void_p()


def vm_hwm(pid):
    """Peak resident size of a process so far, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024


class IngestBudget(PoolwatchTest):

    def setUp(self):
        super().setUp()
        self.http_port = free_port()

    def start(self, budget):
        c = self.collector("--max-inflight-bytes", budget, "--http", "127.0.0.1:%d" % self.http_port)
        self.assertIn("bytes of frames in flight", c.text())
        return c

    def metrics(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10 * SLOW)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            text = r.read().decode()
            self.assertEqual(r.status, 200, text)
        finally:
            conn.close()
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r"(?m)^(poolwatch_collector_\w+) (\S+)$", text)}

    def senders(self, n):
        out = [Sender("127.0.0.1", self.port, timeout=30 * SLOW) for _ in range(n)]
        for s in out:
            self.addCleanup(s.close)
        return out

    def test_frames_over_budget_get_retry_and_arrive_once(self):
        n = 64
        c = self.start("1MiB")
        t0 = (int(time.time()) - 3600) * 1000
        frames = [frame("agent-%02d" % i, t0) for i in range(n)]
        size = frames[0][1]
        self.assertTrue(all(f[1] == size for f in frames))
        fit = MIB // size                 # frames the budget holds at once
        self.assertGreaterEqual(fit, 2)
        self.assertLess(fit, n)
        senders = self.senders(n)
        lock = LmdbWriteLock(self.data)
        self.addCleanup(lock.release)
        hwm0 = vm_hwm(c.p.pid)
        before = self.metrics()
        # all at once while the writer cannot commit: the budget takes `fit`, answers the rest RETRY
        for s, (body, _) in zip(senders, frames):
            s.send(body)
        first = replies(senders, n - fit, 10)
        retry = sum(1 for a in first.values() if a["status"] == RETRY)
        self.assertEqual(retry, n - fit, first.values())
        for a in first.values():
            self.assertEqual(a["seq"], 1, "the ack names the frame")
            self.assertGreater(a["retry_ms"], 0, "with a hint")
            self.assertIn("max-inflight-bytes", a["msg"])
        m = self.metrics()
        self.assertEqual(m["poolwatch_collector_frames_over_budget_total"], retry)
        self.assertEqual(m["poolwatch_collector_frames_received_total"]
                         - before["poolwatch_collector_frames_received_total"], n)
        self.assertEqual(m["poolwatch_collector_inflight_bytes"], fit * size,
                         "the taken frames' decoded bytes, no more than the budget")
        taken = [s for s in senders if s not in first]
        r, _, _ = select.select([s.s for s in taken], [], [], 0)
        self.assertEqual(r, [], "taken frames wait for the writer")
        # held: `fit` frames; without the budget all n (n * size decoded; peak RSS then grew
        # 26 MB against 4-5 MB with it, the frames' wire bytes and decoding included)
        if SLOW == 1:   # a sanitizer's allocator keeps freed memory (quarantine): RSS says nothing there
            grown = vm_hwm(c.p.pid) - hwm0
            self.assertLess(grown, n * size // 2,
                            "peak RSS grew %d bytes; the %d frames would take %d" % (grown, n, n * size))
        c.wait_log(r"frame seq 1 from agent-\d+ answered retry-later: its %d bytes decoded do not "
                   r"fit next to the %d in flight \(--max-inflight-bytes %d\)" % (size, fit * size, MIB))
        # the writer goes on: the taken frames are stored, their bytes given back
        lock.release()
        stored = replies(taken, len(taken), 30)
        self.assertEqual({a["status"] for a in stored.values()}, {STORED})
        wait_until(lambda: self.metrics()["poolwatch_collector_inflight_bytes"] == 0, 10,
                   "in-flight bytes given back")
        # the agents send their RETRY frames again, as often as told, until stored
        acks = {s: [a["status"]] for s, a in first.items()}
        for s in taken:
            acks[s] = [STORED]
        pending = [s for s in senders if acks[s][-1] == RETRY]
        for round_ in range(n):
            if not pending:
                break
            for s in pending:
                s.send(frames[senders.index(s)][0])
            got = replies(pending, len(pending), 60)
            for s, a in got.items():
                self.assertEqual(a["seq"], 1)
                acks[s].append(a["status"])
            pending = [s for s in pending if acks[s][-1] == RETRY]
        self.assertEqual(pending, [], "every frame stored after at most %d rounds" % n)
        for s in senders:
            self.assertEqual(acks[s], [RETRY] * (len(acks[s]) - 1) + [STORED], "retried, then stored once")
        retries = sum(a.count(RETRY) for a in acks.values())
        m = self.metrics()
        self.assertEqual(m["poolwatch_collector_frames_over_budget_total"], retries,
                         "the counter is the RETRY acks agents saw")
        self.assertEqual(m["poolwatch_collector_frames_retry_total"], retries)
        self.assertEqual(m["poolwatch_collector_frames_duplicate_total"], 0)
        self.assertEqual(m["poolwatch_collector_inflight_bytes"], 0)
        # stored once each: one frame per agent, every point of series s=0 once
        frames_by_agent = {h["agent_id"]: h["frames"] for h in self.hosts()}
        for i in range(n):
            self.assertEqual(frames_by_agent.get("agent-%02d" % i), 1)
        series = self.query('%s{s="0"}' % METRIC, frm="-3h")
        self.assertEqual(len(series), n)
        for sr in series:
            ts = [t for t, _ in sr["points"]]
            self.assertEqual(len(ts), GROUPS, sr["labels"])
            self.assertEqual(len(set(ts)), GROUPS)

    def test_one_frame_over_the_budget_gets_through_alone(self):
        self.start("64KiB")
        body, size = frame("big", (int(time.time()) - 3600) * 1000)
        self.assertGreater(size, 64 << 10)
        s = self.senders(1)[0]
        s.send(body)
        self.assertEqual(replies([s], 1, 30)[s]["status"], STORED)
        m = self.metrics()
        self.assertEqual(m["poolwatch_collector_frames_over_budget_total"], 0)
        self.assertEqual(m["poolwatch_collector_inflight_bytes"], 0)

    def test_bad_budget_option(self):
        for value, msg in (("lots", r'--max-inflight-bytes: "lots" is not a size'),
                           ("1KiB", r"--max-inflight-bytes must be at least 64KiB"),
                           ("-5MiB", r'--max-inflight-bytes: "-5MiB" is not a size')):
            r = subprocess.run([COLLECTOR, "--data", self.data, "--http", "off", "--listen", self.url,
                                "--max-inflight-bytes", value],
                               capture_output=True, text=True, timeout=30 * SLOW)
            self.assertEqual(r.returncode, 1, (value, r.stderr))
            self.assertRegex(r.stderr, msg)
            self.assertNotIn("listening on", r.stderr)
        r = subprocess.run([COLLECTOR, "--help"], capture_output=True, text=True, timeout=30 * SLOW)
        self.assertIn("--max-inflight-bytes", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
