"""`poolwatch token` and `poolwatch audit`: tokens created, listed (never with
their secret), revoked; every operation in the audit log, which verifies and
exports; tampering through LMDB's own tools (mdb_dump / mdb_load) makes
`audit verify` exit 5 naming the record, and a consistent rewrite of the
chain is caught by `--expect` with a hash written down earlier."""
import csv
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import unittest

from pwtest import CLI, SANITIZER_RX, SLOW, PoolwatchTest

TOKEN_RX = re.compile(r"^pwt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
HEAD_RX = re.compile(r"^head: (\d+):([0-9a-f]{64})$", re.M)
USER = pwd.getpwuid(os.geteuid()).pw_name
HAVE_MDB_TOOLS = shutil.which("mdb_dump") is not None and shutil.which("mdb_load") is not None


class SecurityCli(PoolwatchTest):

    def setUp(self):
        super().setUp()
        os.makedirs(self.data)
        self.mdb = os.path.join(self.data, "security.mdb")

    def run_cli(self, *args):
        r = subprocess.run([CLI, "--data", self.data, *args], capture_output=True, text=True,
                           timeout=60 * SLOW)
        # a sanitizer build reports on stderr, not always in the exit status
        self.assertIsNone(SANITIZER_RX.search(r.stderr), r.stderr[-4000:])
        return r

    def ok(self, *args):
        r = self.run_cli(*args)
        self.assertEqual(r.returncode, 0, "poolwatch %s: %s" % (" ".join(args), r.stderr))
        return r

    def create(self, *args):
        r = self.ok("token", "create", *args)
        token = r.stdout.strip()
        m = TOKEN_RX.match(token)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(r.stdout, token + "\n")     # the token alone on stdout
        self.assertIn("created token " + m.group(1), r.stderr)
        return token, m.group(1)

    def tokens(self):
        return {t["id"]: t for t in json.loads(self.ok("token", "list", "--format", "json").stdout)}

    def export(self, *args):
        return json.loads(self.ok("audit", "export", "--format", "json", *args).stdout)

    def test_collector_records_its_own_start_reload_and_stop(self):
        import signal
        from pwtest import free_port
        c = self.collector("--http", "127.0.0.1:%d" % free_port())
        c.p.send_signal(signal.SIGHUP)
        c.wait_log(r"SIGHUP")
        c.stop()
        actions = [r["action"] for r in self.export() if r["principal"] == "system"]
        self.assertEqual(actions[:3], ["collector.start", "config.reload", "collector.stop"])
        self.ok("audit", "verify")
        # R12: the audit log is kept at least 183 days; a shorter retention is refused
        r = subprocess.run([c.argv[0], "--data", self.data, "--audit-retention", "30d"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("183d", r.stderr)

    # ---- raw LMDB, as an intruder with write access to security.mdb -----------

    def dump(self, db):
        """{key bytes: value bytes} of one database, through mdb_dump."""
        out = subprocess.run(["mdb_dump", "-n", "-s", db, self.mdb], capture_output=True,
                             text=True, check=True).stdout.splitlines()
        lines = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
        return {bytes.fromhex(lines[i].strip()): bytes.fromhex(lines[i + 1].strip())
                for i in range(0, len(lines), 2)}

    def load(self, db, records):
        """Writes {key: value} into db through mdb_load (overwriting)."""
        text = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n"
        for k, v in records.items():
            text += " %s\n %s\n" % (k.hex(), v.hex())
        text += "DATA=END\n"
        subprocess.run(["mdb_load", "-n", "-s", db, self.mdb], input=text, text=True,
                       check=True, capture_output=True)

    @staticmethod
    def seq_key(seq):
        return seq.to_bytes(8, "big")

    # ---- tests ------------------------------------------------------------------

    def test_round_trip(self):
        t_ops, id_ops = self.create("--role", "operator", "--name", "support center")
        t_ten, id_ten = self.create("--role", "tenant", "--tenant", "unit-a", "--expires", "90d")
        t_aud, id_aud = self.create("--role", "auditor", "--expires", "never", "--name", "bureau")
        secrets = [t[17:] for t in (t_ops, t_ten, t_aud)]

        # key and database as documented
        key = os.stat(os.path.join(self.data, "security.key"))
        self.assertEqual(stat.S_IMODE(key.st_mode), 0o600)
        self.assertEqual(key.st_size, 32)

        toks = self.tokens()
        self.assertEqual(set(toks), {id_ops, id_ten, id_aud})
        self.assertEqual(toks[id_ops]["role"], "operator")
        self.assertEqual(toks[id_ops]["name"], "support center")
        self.assertIsNone(toks[id_ops]["tenant"])
        self.assertIsNone(toks[id_ops]["expires"])
        self.assertEqual(toks[id_ten]["role"], "tenant")
        self.assertEqual(toks[id_ten]["tenant"], "unit-a")
        days = (toks[id_ten]["expires_ms"] - toks[id_ten]["created_ms"]) / 86400000
        self.assertAlmostEqual(days, 90, delta=0.01)
        self.assertTrue(all(t["state"] == "active" for t in toks.values()))

        # no format ever shows a secret
        for fmt in ("table", "csv", "json"):
            out = self.ok("token", "list", "--format", fmt).stdout
            for s in secrets:
                self.assertNotIn(s, out)
        rows = list(csv.reader(io.StringIO(self.ok("token", "list", "--format", "csv").stdout)))
        self.assertEqual(rows[0], ["id", "role", "tenant", "name", "created", "expires", "revoked",
                                   "last_used", "state"])
        self.assertEqual(len(rows), 4)

        # revoke: by id, again (no change), by the whole token, unknown id
        r = self.ok("token", "revoke", id_ops)
        self.assertIn("revoked", r.stderr)
        revoked_at = self.tokens()[id_ops]["revoked_ms"]
        self.assertEqual(self.tokens()[id_ops]["state"], "revoked")
        r = self.ok("token", "revoke", id_ops)
        self.assertIn("already revoked", r.stderr)
        self.assertEqual(self.tokens()[id_ops]["revoked_ms"], revoked_at)
        self.ok("token", "revoke", t_aud)
        self.assertEqual(self.tokens()[id_aud]["state"], "revoked")
        r = self.run_cli("token", "revoke", "0123456789ab")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no token has id 0123456789ab", r.stderr)
        self.assertEqual(self.tokens()[id_ten]["state"], "active")

        # the log: intact, and it holds every operation, by the CLI user, without secrets
        r = self.ok("audit", "verify")
        m = re.search(r"audit log intact: (\d+) records checked \(seq 1 to (\d+)\)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(m.group(1), m.group(2))
        head = HEAD_RX.search(r.stdout)
        self.assertIsNotNone(head, r.stdout)
        self.assertEqual(head.group(1), m.group(2))

        recs = self.export()
        self.assertEqual([x["seq"] for x in recs], list(range(1, len(recs) + 1)))
        actions = [x["action"] for x in recs]
        self.assertEqual(actions.count("token.create"), 3)
        self.assertEqual(actions.count("token.revoke"), 4)
        self.assertGreaterEqual(actions.count("token.list"), 6)
        self.assertEqual(actions[-1], "audit.export")
        for x in recs:
            self.assertEqual(x["principal"], "cli")
            self.assertEqual(x["source"], "cli:" + USER)
            self.assertEqual(x["role"], "admin")
        creates = [x for x in recs if x["action"] == "token.create"]
        self.assertTrue(creates[0]["object"].startswith(id_ops + " role=operator"))
        self.assertIn("tenant=unit-a", creates[1]["object"])
        revokes = [x for x in recs if x["action"] == "token.revoke"]
        self.assertEqual([x["result"] for x in revokes], ["ok", "ok", "ok", "failed"])
        self.assertEqual(revokes[3]["detail"], "no such token")
        self.assertIn("already revoked", revokes[1]["object"])
        text = self.ok("audit", "export").stdout + json.dumps(recs)
        for s in secrets:
            self.assertNotIn(s, text)

        # csv export, and a time window
        rows = list(csv.reader(io.StringIO(self.ok("audit", "export", "--format", "csv").stdout)))
        self.assertEqual(rows[0], ["seq", "time", "ts_ms", "role", "principal", "token_id",
                                   "tenant", "source", "action", "object", "result", "detail"])
        self.assertEqual(rows[1][8], "token.create")
        first_ts = recs[0]["ts_ms"]
        only = self.export("--from", str(first_ts), "--to", str(first_ts))
        self.assertEqual([x["seq"] for x in only], [1])
        self.assertEqual(self.export("--from", "+1h", "--to", "+2h"), [])

        # the head written down earlier is still there, after more records
        self.ok("audit", "verify", "--expect", "%s:%s" % head.groups())

    def test_usage_and_missing(self):
        for args, want in [
            (["token", "create"], "--role must be"),
            (["token", "create", "--role", "root"], "--role must be"),
            (["token", "create", "--role", "tenant"], "needs --tenant"),
            (["token", "create", "--role", "admin", "--tenant", "x"], "only for --role tenant"),
            (["token", "create", "--role", "admin", "--expires", "soon"], "--expires"),
            (["token", "create", "--role", "admin", "--expires", "2001-01-01"], "--expires"),
            (["token", "create", "--role", "admin", "--format", "json"], "takes no --format"),
            (["token", "create", "--role", "admin", "--name", "a\tb"], "name"),
            (["token", "list", "--format", "xml"], "--format"),
            (["token", "list", "--role", "admin"], "takes no --role"),
            (["token", "revoke"], "one token id"),
            (["token", "revoke", "xyz"], "not a token id"),
            (["token", "revoke", "ABCDEF012345"], "not a token id"),
            (["token", "rotate"], "unknown subcommand"),
            (["token"], "create, list or revoke"),
            (["audit"], "verify or export"),
            (["audit", "export", "--format", "table"], "csv or json"),
            (["audit", "export", "--from", "yesterday"], "--from"),
            (["audit", "verify", "--expect", "5:abc"], "--expect"),
            (["audit", "verify", "--format", "csv"], "takes no"),
        ]:
            r = self.run_cli(*args)
            self.assertEqual(r.returncode, 1, "%s: %s" % (args, r.stderr))
            self.assertIn(want, r.stderr, args)
        self.assertEqual(self.run_cli("token", "--help").returncode, 0)
        self.assertEqual(self.run_cli("audit", "--help").returncode, 0)
        # nothing above made the database except the name check, which is recorded
        recs = self.export()
        self.assertEqual([x["action"] for x in recs], ["token.create", "audit.export"])
        self.assertEqual(recs[0]["result"], "failed")

        # a data directory that does not exist, or holds no security database yet
        r = subprocess.run([CLI, "--data", os.path.join(self.tmp, "nope"), "token", "list"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not exist", r.stderr)
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        r = subprocess.run([CLI, "--data", empty, "audit", "verify"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no security database", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(empty, "security.mdb")))

    def test_key_permissions(self):
        self.create("--role", "admin")
        key = os.path.join(self.data, "security.key")
        os.chmod(key, 0o644)
        r = self.run_cli("token", "list")
        self.assertEqual(r.returncode, 2)
        self.assertIn("group or others", r.stderr)
        r = self.run_cli("token", "create", "--role", "admin")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        # verify is read-only and never reads the key
        self.ok("audit", "verify")
        os.chmod(key, 0o600)
        self.ok("token", "list")

    @unittest.skipUnless(HAVE_MDB_TOOLS, "needs mdb_dump and mdb_load (lmdb-utils)")
    def test_tamper_alter(self):
        for _ in range(3):
            self.create("--role", "operator")
        self.ok("audit", "verify")
        audit = self.dump("audit")
        rec = bytearray(audit[self.seq_key(2)])
        # one character of the object text (the record ends with the empty detail's length)
        rec[-3] ^= 0x01
        self.load("audit", {self.seq_key(2): bytes(rec)})
        r = self.run_cli("audit", "verify")
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("BROKEN at seq 2: record 2 was altered", r.stdout)
        self.assertIn("1 records before it are intact", r.stdout)
        # put back: intact again
        self.load("audit", {self.seq_key(2): audit[self.seq_key(2)]})
        self.ok("audit", "verify")

    @unittest.skipUnless(HAVE_MDB_TOOLS, "needs mdb_dump and mdb_load (lmdb-utils)")
    def test_tamper_swap(self):
        for _ in range(4):
            self.create("--role", "auditor")
        audit = self.dump("audit")
        self.load("audit", {self.seq_key(2): audit[self.seq_key(3)],
                            self.seq_key(3): audit[self.seq_key(2)]})
        r = self.run_cli("audit", "verify")
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("BROKEN at seq 2", r.stdout)
        self.assertIn("reordered", r.stdout)

    @unittest.skipUnless(HAVE_MDB_TOOLS, "needs mdb_dump and mdb_load (lmdb-utils)")
    def test_rewritten_chain_needs_expect(self):
        """Whoever can write the file can recompute every hash after a change: the chain
        then verifies, and only a head hash written down before shows the rewrite."""
        for _ in range(4):
            self.create("--role", "operator")
        head = HEAD_RX.search(self.ok("audit", "verify").stdout).groups()
        audit = self.dump("audit")
        seqs = sorted(int.from_bytes(k, "big") for k in audit)
        new, prev = {}, None
        for seq in seqs:
            rec = bytearray(audit[self.seq_key(seq)])
            if seq == 2:
                rec[-3] ^= 0x01
            if prev is not None and seq > 2:
                rec[19:51] = prev
            prev = hashlib.sha256(rec).digest()
            new[self.seq_key(seq)] = bytes(rec)
        meta = self.dump("audit_meta")
        h = bytearray(meta[b"head"])
        h[8:40] = prev
        self.load("audit", new)
        self.load("audit_meta", {b"head": bytes(h)})
        self.ok("audit", "verify")        # the chain alone cannot tell
        r = self.run_cli("audit", "verify", "--expect", "%s:%s" % head)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("REWRITTEN", r.stdout)


if __name__ == "__main__":
    unittest.main()
