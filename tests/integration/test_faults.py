"""Faults on loopback: collector killed, collector down, spool full, hostile input."""
import json
import os
import platform
import re
import signal
import struct
import subprocess
import time
import unittest

import msgpack

import sp
from pwtest import PoolwatchTest, wait_until


def seq_values(test, boot):
    """Values of poolwatch_agent_frame_seq for one boot, in time order."""
    return [v for _, v in test.points('poolwatch_agent_frame_seq{boot="%s"}' % boot)]


def boot_of(agent):
    return re.findall(r"\(boot ([0-9a-f]{32})\)", agent.text())[-1]


def stop_info(agent):
    """(last seq, frames left in the spool) from the agent's stop line."""
    m = re.search(r"stopping after seq (\d+), (\d+) frame\(s\) stay spooled", agent.text())
    return int(m.group(1)), int(m.group(2))


# futex(2) by architecture, for telling a thread that waits on LMDB's lock.
FUTEX_NR = {"x86_64": 202, "aarch64": 98}.get(platform.machine())


def waits_on_lock_file(pid, comm, path):
    """True when thread `comm` of pid sleeps in futex(2) on a word inside the
    mapping of `path` (LMDB's write mutex lives in lock.mdb)."""
    spans = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if line.rstrip().endswith(path):
                lo, hi = line.split()[0].split("-")
                spans.append((int(lo, 16), int(hi, 16)))
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                sc = f.read().split()
        except OSError:
            continue
        if name == comm and len(sc) > 1 and sc[0] == str(FUTEX_NR) \
                and any(lo <= int(sc[1], 16) < hi for lo, hi in spans):
            return True
    return False


def blocked_reading_stdin(pid):
    """True when pid sleeps in read(2) on its stdin (an empty pipe)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            sc = f.read().split()
    except OSError:
        return False
    read_nr = {"x86_64": 0, "aarch64": 63}.get(platform.machine())
    return len(sc) > 1 and sc[0] == str(read_nr) and int(sc[1], 16) == 0


class Faults(PoolwatchTest):

    def test_kill9_collector_every_seq_stored_once(self):
        c = self.collector()
        a = self.agent()
        boot1 = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot1)) >= 5, 20, "5 frames stored")
        c.kill9()
        # the agent notices and spools; then the collector comes back on the same data
        a.wait_log(r"collector .*retrying", timeout=10)
        self.collector(name="collector2")
        wait_until(lambda: len(seq_values(self, boot1)) >= 25, 30, "25 frames after restart")
        a.stop()
        last1, left1 = stop_info(a)
        # a second agent run on the same spool sends what the first left behind
        a2 = self.agent(name="agent", spool=os.path.join(self.tmp, "agent-spool"), log="agent2")
        boot2 = boot_of(a2)
        self.assertNotEqual(boot1, boot2)
        wait_until(lambda: seq_values(self, boot1)[-1:] == [last1], 20,
                   "boot 1's last frame (seq %d) delivered" % last1)
        wait_until(lambda: len(seq_values(self, boot2)) >= 3, 20, "boot 2 frames")
        a2.stop()
        last2, left2 = stop_info(a2)
        self.assertEqual(seq_values(self, boot1), list(range(1, last1 + 1)),
                         "every seq of boot 1 stored exactly once, in order")
        self.assertEqual(seq_values(self, boot2), list(range(1, last2 - left2 + 1)))
        agent = [h for h in self.hosts() if h["agent_id"] == "agent"][0]
        self.assertEqual(agent["frames"], last1 + last2 - left2,
                         "collector counted no frame twice")

    def test_dedupe_rows_of_old_boots_expire(self):
        # --dedupe-keep 1s: the maintenance thread forgets boots unseen for a second.
        c = self.collector("--dedupe-keep", "1s", "--maintenance-interval", "50ms")
        a = self.agent()
        boot1 = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot1)) >= 3, 20, "boot 1 frames")
        a.stop()
        a2 = self.agent(name="agent", spool=os.path.join(self.tmp, "agent-spool"), log="agent2")
        boot2 = boot_of(a2)
        # boot 1's row goes; boot 2's, the agent's newest, stays while frames keep coming
        c.wait_log(r"maintenance: 1 dedupe row\(s\) of old agent boots removed", timeout=20)
        n = len(seq_values(self, boot2))
        wait_until(lambda: len(seq_values(self, boot2)) >= n + 15, 20, "boot 2 frames after the expiry")
        a2.stop()
        last2, left2 = stop_info(a2)
        self.assertEqual(seq_values(self, boot2), list(range(1, last2 - left2 + 1)),
                         "boot 2 stored once per seq across the expiry")
        self.assertNotIn("dedupe expiry:", c.text())

    def test_agent_restart_while_collector_down(self):
        spool = os.path.join(self.tmp, "spool")
        a = self.agent(spool=spool)
        boot1 = boot_of(a)
        a.wait_log(r"collector .*retrying", timeout=10)
        # wait for a few frames to pile up in the spool (its LMDB, read with mdb_stat)
        def spooled():
            r = subprocess.run(["mdb_stat", "-s", "frames", spool], capture_output=True, text=True)
            m = re.search(r"Entries: (\d+)", r.stdout)
            return m and int(m.group(1)) >= 5
        wait_until(spooled, 20, "5 frames in the spool")
        a.stop()
        last1, left1 = stop_info(a)
        self.assertEqual(left1, last1, "nothing could be sent")
        self.collector()
        a2 = self.agent(spool=spool, name="agent", log="agent2")
        wait_until(lambda: seq_values(self, boot1)[-1:] == [last1], 20, "spooled frames arrive")
        self.assertEqual(seq_values(self, boot1), list(range(1, last1 + 1)))
        a2.stop()

    def test_spool_full_drops_oldest(self):
        spool = os.path.join(self.tmp, "spool")
        a = self.agent("--spool-max", "64KiB", "--interval", "20ms", "--log-level", "debug",
                       spool=spool)
        boot1 = boot_of(a)
        first = int(a.wait_log(r"spool full .* to keep seq (\d+)", timeout=30)[0])
        # run on until every frame left in the spool was made after a drop
        a.wait_log(r"frame seq %d:" % (first + 40), timeout=30)
        a.stop()
        last1, left1 = stop_info(a)
        self.assertLess(left1, last1)
        self.collector()
        a2 = self.agent(spool=spool, name="agent", log="agent2")
        wait_until(lambda: seq_values(self, boot1)[-1:] == [last1], 20, "kept frames arrive")
        vals = seq_values(self, boot1)
        # the newest frames survive, in order; the oldest were dropped
        self.assertEqual(vals, list(range(last1 - len(vals) + 1, last1 + 1)))
        self.assertGreater(vals[0], first)
        a2.stop()
        # frame k reports the drops before it: (k - 1) - frames then kept, and
        # about len(vals) frames fit in the spool (sizes vary by a few bytes)
        dropped = [v for _, v in self.points('poolwatch_agent_spool_dropped_frames_total{host="h1"}')]
        self.assertTrue(dropped, "the agent reports its drops")
        self.assertAlmostEqual(max(dropped), last1 - 1 - len(vals), delta=2)

    def test_storage_full_keeps_frames_with_agents(self):
        # A 256 KiB ceiling fills within seconds: the collector must answer
        # "retry later", the agent keep its frames, and nothing be lost.
        c = self.collector("--max-db-size", "256KiB")
        a = self.agent("--interval", "20ms")
        boot = boot_of(a)
        c.wait_log(r"storage full", timeout=30)
        a.wait_log(r"collector asks to retry later: collector storage is full", timeout=20)
        self.assertIsNone(c.p.poll(), "collector keeps running when full")
        c.stop()
        # room again: everything the agent kept arrives, each seq once
        self.collector("--max-db-size", "64MiB", name="collector2")
        a.wait_log(r"delivering again", timeout=20)
        a.stop()
        last, left = stop_info(a)
        a2 = self.agent(spool=os.path.join(self.tmp, "agent-spool"), log="agent2")
        wait_until(lambda: seq_values(self, boot)[-1:] == [last], 30, "all frames of boot 1")
        self.assertEqual(seq_values(self, boot), list(range(1, last + 1)))
        a2.stop()

    def test_kill9_during_maintenance_leaves_a_consistent_store(self):
        # Frames every 10 ms seal open chunks every ~7 s and the upkeep thread
        # runs every 10 ms, so each kill lands among ingest and maintenance.
        opts = ("--maintenance-interval", "10ms")
        c = self.collector(*opts)
        a = self.agent("--interval", "10ms")
        boot = boot_of(a)
        def txns():
            pts = self.points("poolwatch_collector_maintenance_txns_total")
            return pts and max(v for _, v in pts)
        for round_ in range(3):
            wait_until(lambda: (txns() or 0) > 0 and len(seq_values(self, boot)) > 300 * (round_ + 1),
                       60, "ingest and maintenance under way (round %d)" % round_)
            c.kill9()
            c = self.collector(*opts, name="collector-r%d" % round_)
        wait_until(lambda: len(seq_values(self, boot)) > 1500, 60, "more than one seal")
        a.stop()
        last, left = stop_info(a)
        a2 = self.agent(spool=os.path.join(self.tmp, "agent-spool"), log="agent2")
        wait_until(lambda: seq_values(self, boot)[-1:] == [last], 30, "every frame delivered")
        a2.stop()
        self.assertEqual(seq_values(self, boot), list(range(1, last + 1)),
                         "every seq stored exactly once across kills")
        # rollups (stored and computed) agree with the raw points
        sel = 'poolwatch_agent_frame_seq{boot="%s"}' % boot
        for fn in ("count_over_time", "max_over_time", "sum_over_time"):
            q = "%s(%s[5m])" % (fn, sel)
            raw = self.cli("query", q, "--from", "-1h", "--to", "+5m", "--step", "5m",
                           "--res", "raw", "--format", "json").stdout
            rolled = self.cli("query", q, "--from", "-1h", "--to", "+5m", "--step", "5m",
                              "--res", "5m", "--format", "json").stdout
            self.assertTrue(json.loads(raw), "%s returned nothing" % fn)
            self.assertEqual(json.loads(raw), json.loads(rolled), fn)

    @unittest.skipIf(FUTEX_NR is None, "futex(2) number of this architecture not known")
    def test_stop_deadline_when_a_step_hangs(self):
        """A shutdown step that hangs ends at --stop-timeout, logged, exit 0;
        the store is whole afterwards and nothing is lost. The hang is real:
        another process (mdb_load, stopped inside its write transaction)
        holds LMDB's write lock, so the writer cannot store the frames it
        holds and pw_writer_stop waits for it."""
        c = self.collector("--stop-timeout", "700ms")
        a = self.agent()
        boot = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot)) >= 3, 20, "frames stored")
        lock = subprocess.Popen(["mdb_load", "-s", "pwtest_lock", self.data], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lock.stdin.close)
        self.addCleanup(lambda: lock.poll() is None and (lock.kill(), lock.wait()))
        # The dump header only: mdb_load begins its write txn, then waits for records.
        lock.stdin.write(b"VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n")
        lock.stdin.flush()
        wait_until(lambda: blocked_reading_stdin(lock.pid), 10, "mdb_load inside its write txn")
        lockfile = os.path.join(os.path.realpath(self.data), "lock.mdb")
        wait_until(lambda: waits_on_lock_file(c.p.pid, "pw:writer", lockfile), 10,
                   "the collector's writer waiting for the write lock")
        t0 = time.monotonic()
        c.stop()
        self.assertLess(time.monotonic() - t0, 8, "the deadline bounds the stop")
        self.assertRegex(c.text(), r"shutdown still storing the frames received after 700 ms: "
                                   r"exiting without it; LMDB keeps every committed transaction")
        lock.kill()
        lock.wait()
        # Frames not acked were kept by the agent: all arrive, each once.
        c2 = self.collector(name="collector2")
        a.stop()
        last, _ = stop_info(a)
        a2 = self.agent(spool=os.path.join(self.tmp, "agent-spool"), log="agent2")
        wait_until(lambda: seq_values(self, boot)[-1:] == [last], 30, "every frame delivered")
        a2.stop()
        self.assertEqual(seq_values(self, boot), list(range(1, last + 1)))
        c2.stop()
        self.assertNotIn("exiting without it", c2.text())

    def test_malformed_flood_does_not_stop_a_good_agent(self):
        c = self.collector()
        a = self.agent()
        boot = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot)) >= 3, 20, "good agent flowing")
        good = msgpack.packb({"v": 1, "agent": "x", "boot": b"\0" * 16, "seq": 1,
                              "ts": 1793000000000, "host": "x", "series": [["m"]],
                              "samples": [[1793000000000, 0, 1]]}, use_bin_type=True)
        bad = [b"", b"\xc1", b"garbage" * 100, b"\xdd\xff\xff\xff\xff", b"\x91" * 100 + b"\x01",
               good[:-3], good + b"\x00",
               msgpack.packb({"v": 9, "seq": 4}), msgpack.packb({"v": 1, "seq": 5}),
               msgpack.packb([1, 2, 3])]
        statuses = {}
        cl = sp.ReqClient("127.0.0.1", self.port)
        sent = 0
        for i in range(300):
            body = bad[i % len(bad)]
            ack = msgpack.unpackb(cl.request(body), raw=False)
            statuses[ack["status"]] = statuses.get(ack["status"], 0) + 1
            sent += 1
        cl.close()
        self.assertEqual(set(statuses), {3, 4}, statuses)       # rejected, unsupported
        # transport-level garbage: bad handshakes, oversized length prefix
        for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x00SP\x00\x00\x30\x00\x00" + struct.pack(">Q", 1 << 40)):
            sp.raw_connect_send("127.0.0.1", self.port, junk)
        before = len(seq_values(self, boot))
        wait_until(lambda: len(seq_values(self, boot)) >= before + 5, 20,
                   "good agent still stored after the flood")
        rej = wait_until(lambda: [v for _, v in self.points("poolwatch_collector_frames_rejected_total")
                                  if v >= 270], 10, "rejected counter")
        self.assertTrue(rej)
        self.assertIsNone(c.p.poll(), "collector still running")
        self.assertIn("rejected", c.text())
        a.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
