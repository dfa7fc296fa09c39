"""Mutual TLS on loopback: certificates from deploy/pki.sh, identity = certificate CN.

Every test makes its own PKI in its temp dir. Frames that no honest agent
would send (a valid certificate for a0 claiming to be a2) are crafted here
with msgpack and sent over TLS with python's ssl module, speaking the same
SP protocol as sp.py: NNG's tls+tcp is SP over a TLS stream.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import unittest

import msgpack

import sp
from pwtest import AGENT, COLLECTOR, PoolwatchTest, Proc, wait_until
from test_faults import boot_of, seq_values, stop_info

PKI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "pki.sh")
# These tests do not use the collector's HTTP API: it stays off, so its fixed
# default port (which another collector on this machine may hold) is not needed.
HTTP_OFF = (["--http", "off"] if "--http " in subprocess.run(
    [COLLECTOR, "--help"], capture_output=True, text=True).stdout else [])


def run(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (argv, r.returncode, r.stdout, r.stderr))
    return r


def serial_of(pem):
    """The certificate's serial as openssl prints it: upper-case hex, no colons."""
    return run("openssl", "x509", "-in", pem, "-noout", "-serial").stdout.strip().split("=")[1]


class TlsReqClient(sp.ReqClient):
    """sp.ReqClient over TLS: the SP handshake and framing inside the TLS stream."""

    def __init__(self, port, ca, cert=None, key=None, timeout=10.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            self.s.sendall(b"\x00SP\x00" + struct.pack(">H", sp.PROTO_REQ0) + b"\x00\x00")
            hs = self._recv_exact(8)
        except Exception:
            raw.close()
            raise
        if hs[:4] != b"\x00SP\x00" or struct.unpack(">H", hs[4:6])[0] != sp.PROTO_REP0:
            raise IOError("bad handshake from peer: %r" % hs)
        self.next_id = 0x80000001


def frame(agent, seq, host="hx", boot=b"\x01" * 16):
    ts = int(time.time() * 1000)
    return msgpack.packb({"v": 1, "agent": agent, "boot": boot, "seq": seq, "ts": ts, "host": host,
                          "series": [["tls_test_value"]], "samples": [[ts, 0, seq]]},
                         use_bin_type=True)


class Tls(PoolwatchTest):

    def setUp(self):
        super().setUp()
        self.url = "tls+tcp://127.0.0.1:%d" % self.port
        self.pki = os.path.join(self.tmp, "pki")
        run(PKI, "init", self.pki)
        run(PKI, "collector", self.pki, "c1", "--ip", "127.0.0.1")
        for a in ("a0", "a1"):
            run(PKI, "agent", self.pki, a)
        self.ca = os.path.join(self.pki, "ca.pem")

    def cert(self, name, pki=None, kind="agents"):
        d = os.path.join(pki or self.pki, kind)
        return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")

    def tls_collector(self, pki=None, name="collector", extra=()):
        cert, key = self.cert("c1", pki, "collectors")
        return self.collector(*HTTP_OFF, "--tls-ca", self.ca, "--tls-cert", cert, "--tls-key", key,
                              *extra, name=name)

    def tls_agent(self, agent_id, cert=None, key=None, name=None, spool=None, extra=()):
        """An agent without --agent-id: its id must come from the certificate."""
        if cert is None:
            cert, key = self.cert(agent_id)
        name = name or agent_id
        spool = spool or os.path.join(self.tmp, name + "-spool")
        p = Proc([AGENT, "--collector", self.url, "--interval", "100ms", "--spool", spool,
                  "--hostname", "h-" + agent_id, "--backoff-max", "300ms", "--timeout", "2s",
                  "--tls-ca", self.ca, "--tls-cert", cert, "--tls-key", key, *extra],
                 os.path.join(self.tmp, name + ".log"))
        self.procs.append(p)
        p.wait_log(r"agent %s \(boot" % re.escape(agent_id), timeout=10)
        return p

    def assert_every_seq_once(self, agent, boot):
        """Stops the agent; every seq up to the last acked is stored once, in order.

        The frame in flight when the agent stopped may be stored and still
        spooled (its ack was not read): it is resent and deduplicated later.
        """
        agent.stop()
        last, left = stop_info(agent)
        seqs = seq_values(self, boot)
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "no gap, no duplicate")
        self.assertIn(len(seqs), (last - left, last - left + 1), "acked frames all stored")
        return seqs

    def agent_ids(self):
        """Agent ids in `poolwatch hosts`, the collector's own left out.

        Waits for the collector's own frame (every 200 ms): `poolwatch hosts` on a
        store without any agent trips UBSan (qsort of NULL in cli_hosts.c).
        """
        def listed():
            r = self.cli("hosts", "--format", "json", check=False)
            return r.returncode == 0 and json.loads(r.stdout)
        hosts = wait_until(listed, 10, "the collector's own entry in poolwatch hosts")
        return sorted(h["agent_id"] for h in hosts if h["agent_id"] != "poolwatch-collector")

    def test_mutual_tls_end_to_end(self):
        c = self.tls_collector()
        a = self.tls_agent("a1")
        boot = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot)) >= 5, 20, "5 frames over TLS")
        self.assertTrue(self.points('node_load1{host="h-a1"}'), "samples stored")
        hosts = [h for h in self.hosts() if h["agent_id"] == "a1"]
        self.assertEqual(len(hosts), 1, self.hosts())
        self.assertEqual(hosts[0]["host"], "h-a1")
        self.assertRegex(a.text(), r"TLS: this agent's certificate CN=a1 serial")
        self.assertRegex(c.text(), r"TLS: collector certificate CN=c1")
        self.assertNotIn("without TLS", c.text())
        self.assertNotIn("plain tcp://", a.text())
        self.assert_every_seq_once(a, boot)

    def test_bad_tls_options_are_refused_at_startup(self):
        a1_cert, a1_key = self.cert("a1")
        a0_cert, a0_key = self.cert("a0")
        c1_cert, c1_key = self.cert("c1", kind="collectors")
        spool = os.path.join(self.tmp, "spool")
        agent = [AGENT, "--spool", spool, "--collector", self.url, "--tls-ca", self.ca]
        cases = [
            (agent + ["--tls-cert", a1_cert, "--tls-key", a1_key, "--agent-id", "a2"],
             r"--agent-id a2 differs from the CN of --tls-cert .*a1\.pem \(a1\)"),
            (agent + ["--tls-cert", a1_cert], r"missing: --tls-key"),
            (agent + ["--tls-cert", a1_cert, "--tls-key", a0_key], r"is not the key of the certificate"),
            (agent + ["--tls-cert", c1_cert, "--tls-key", c1_key], r"not a TLS client certificate"),
            (agent + ["--tls-cert", a1_cert, "--tls-key", os.path.join(self.tmp, "nope.key")],
             r"--tls-key .*nope\.key: cannot read: No such file"),
            (agent + ["--tls-cert", self.ca, "--tls-key", a1_key], r"is not the key of the certificate"),
            ([AGENT, "--spool", spool, "--collector", "tcp://127.0.0.1:%d" % self.port,
              "--tls-ca", self.ca], r"need --collector tls\+tcp://"),
            ([COLLECTOR, *HTTP_OFF, "--data", self.data, "--listen", self.url, "--tls-ca", self.ca,
              "--tls-cert", a1_cert, "--tls-key", a1_key], r"not a TLS server certificate"),
            ([COLLECTOR, *HTTP_OFF, "--data", self.data, "--listen", self.url, "--tls-ca", self.ca],
             r"missing: --tls-cert --tls-key"),
            ([COLLECTOR, *HTTP_OFF, "--data", self.data, "--listen", "tcp://127.0.0.1:%d" % self.port,
              "--tls-cert", c1_cert], r"need --listen tls\+tcp://"),
        ]
        for argv, want in cases:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, "%s: %s" % (argv, r.stderr))
            self.assertRegex(r.stderr, want, argv)

    def test_client_without_certificate_is_refused(self):
        c = self.tls_collector()
        with self.assertRaises((ssl.SSLError, OSError, EOFError)):
            cl = TlsReqClient(self.port, self.ca)
            cl.request(frame("a0", 1))
        c.wait_log(r"TLS handshake with agent 127\.0\.0\.1:\d+ failed: Certificate was missing")
        # an agent speaking plain tcp:// to the TLS port gets nowhere either
        p = Proc([AGENT, "--collector", "tcp://127.0.0.1:%d" % self.port, "--interval", "100ms",
                  "--spool", os.path.join(self.tmp, "plain-spool"), "--agent-id", "plain",
                  "--backoff-max", "300ms", "--timeout", "1s"], os.path.join(self.tmp, "plain.log"))
        self.procs.append(p)
        p.wait_log(r"collector .*retrying", timeout=10)
        c.wait_log(r"TLS handshake with agent .* failed", count=2)
        p.stop()
        self.assertEqual(self.agent_ids(), [])

    def test_certificate_from_another_ca_is_refused(self):
        other = os.path.join(self.tmp, "other")
        run(PKI, "init", other)
        run(PKI, "agent", other, "a1")
        c = self.tls_collector()
        cert, key = self.cert("a1", other)
        a = self.tls_agent("a1", cert, key)
        a.wait_log(r"does not chain|not correctly signed")         # warned at startup
        c.wait_log(r"TLS handshake with agent 127\.0\.0\.1:\d+ failed: "
                   r"The certificate is not correctly signed by the trusted CA")
        a.wait_log(r"TLS handshake with collector 127\.0\.0\.1 at 127\.0\.0\.1:\d+ failed: .*"
                   r"the collector refused this agent's certificate")
        a.wait_log(r"collector .*retrying")
        a.stop()
        last, left = stop_info(a)
        self.assertEqual(left, last, "every frame still spooled")
        self.assertEqual(self.agent_ids(), [])

    def expired_cert(self, agent_id):
        """A certificate for the agent's key that expired in 2021 (openssl ca -startdate/-enddate)."""
        d = os.path.join(self.tmp, "expired")
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        cnf = os.path.join(d, "ca.cnf")
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                    "serial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    "x509_extensions = ext\n[p]\ncommonName = supplied\n"
                    "[req]\ndistinguished_name = dn\n[dn]\n"
                    "[ext]\nbasicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n"
                    % (d, d, d))
        _, key = self.cert(agent_id)
        csr, pem = os.path.join(d, "a.csr"), os.path.join(d, agent_id + ".pem")
        run("openssl", "req", "-new", "-config", cnf, "-key", key, "-subj", "/CN=" + agent_id,
            "-out", csr)
        run("openssl", "ca", "-batch", "-config", cnf, "-cert", self.ca,
            "-keyfile", os.path.join(self.pki, "ca.key"), "-in", csr, "-out", pem, "-notext",
            "-startdate", "20200101000000Z", "-enddate", "20210101000000Z")
        return pem, key

    def test_expired_certificate_is_refused(self):
        cert, key = self.expired_cert("a1")
        c = self.tls_collector()
        a = self.tls_agent("a1", cert, key)
        a.wait_log(r"--tls-cert .* expired on 2021-01-01T00:00:00Z")
        c.wait_log(r"TLS handshake with agent 127\.0\.0\.1:\d+ failed: "
                   r"The certificate validity has expired")
        a.wait_log(r"collector .*retrying")
        a.stop()
        last, left = stop_info(a)
        self.assertEqual(left, last, "every frame still spooled")
        self.assertEqual(self.agent_ids(), [])

    def test_revoked_certificate_is_refused(self):
        run(PKI, "renew", self.pki, "agent", "a0")        # both certificates of a0 get revoked
        run(PKI, "revoke", self.pki, "agent", "a0")
        cert, key = self.cert("c1", kind="collectors")
        c = self.collector(*HTTP_OFF, "--tls-ca", os.path.join(self.pki, "ca+crl.pem"), "--tls-cert", cert,
                           "--tls-key", key)
        a0 = self.tls_agent("a0")
        a1 = self.tls_agent("a1")
        c.wait_log(r"TLS handshake with agent 127\.0\.0\.1:\d+ failed: "
                   r"The certificate has been revoked \(is on a CRL\)")
        wait_until(lambda: self.agent_ids() == ["a1"], 20, "a1 delivers, a0 does not")
        a0.stop()
        a1.stop()
        self.assertEqual(self.agent_ids(), ["a1"])

    def test_spoofed_identity_is_rejected_and_counted(self):
        c = self.tls_collector()
        cert, key = self.cert("a0")
        cl = TlsReqClient(self.port, self.ca, cert, key)
        ack = msgpack.unpackb(cl.request(frame("a2", 1)), raw=False)
        self.assertEqual(ack["status"], 3, ack)                          # REJECTED
        self.assertEqual(ack["seq"], 1)
        self.assertEqual(ack["msg"], "identity mismatch: certificate CN=a0, frame agent=a2")
        ack = msgpack.unpackb(cl.request(frame("a1", 2)), raw=False)
        self.assertEqual(ack["status"], 3, ack)
        # the same connection, telling the truth, is stored
        ack = msgpack.unpackb(cl.request(frame("a0", 1)), raw=False)
        self.assertEqual(ack["status"], 0, ack)                          # STORED
        cl.close()
        c.wait_log(r"frame seq 1 from 127\.0\.0\.1:\d+ rejected: identity mismatch: "
                   r"certificate CN=a0, frame agent=a2")
        wait_until(lambda: [v for _, v in self.points(
            "poolwatch_collector_frames_identity_rejected_total") if v == 2], 10,
            "identity counter at 2")
        self.assertEqual(self.agent_ids(), ["a0"])
        self.assertEqual(self.points('tls_test_value{host="hx"}')[0][1], 1)

    def test_agent_refuses_collector_of_another_ca_and_spools(self):
        other = os.path.join(self.tmp, "other")
        run(PKI, "init", other)
        run(PKI, "collector", other, "c1", "--ip", "127.0.0.1")
        cert, key = self.cert("c1", other, "collectors")
        bad = self.collector(*HTTP_OFF, "--tls-ca", os.path.join(other, "ca.pem"), "--tls-cert", cert,
                             "--tls-key", key, name="bad-collector")
        a = self.tls_agent("a1")
        boot = boot_of(a)
        a.wait_log(r"TLS handshake with collector 127\.0\.0\.1 at 127\.0\.0\.1:\d+ failed: "
                   r"The certificate is not correctly signed by the trusted CA")
        a.wait_log(r"collector .*retrying")
        bad.stop()
        self.assertEqual(self.agent_ids(), [], "nothing reached the impostor")
        # the right collector on the same port: the agent delivers what it spooled
        self.tls_collector()
        wait_until(lambda: len(seq_values(self, boot)) >= 10, 30, "spooled frames delivered")
        self.assert_every_seq_once(a, boot)

    def presented_serial(self, ca):
        """The serial of the certificate the collector presents to a new connection."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        cert, key = self.cert("a1")
        ctx.load_cert_chain(cert, key)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return int(s.getpeercert()["serialNumber"], 16)

    def test_collector_sighup_reloads_certificate_and_revocations(self):
        # The collector's CA file is one we can replace, as an operator would.
        ca_file = os.path.join(self.tmp, "collector-ca.pem")
        shutil.copy(self.ca, ca_file)
        cert, key = self.cert("c1", kind="collectors")
        c = self.collector(*HTTP_OFF, "--tls-ca", ca_file, "--tls-cert", cert, "--tls-key", key)
        a0, a1 = self.tls_agent("a0"), self.tls_agent("a1")
        b0, b1 = boot_of(a0), boot_of(a1)
        wait_until(lambda: len(seq_values(self, b0)) >= 3 and len(seq_values(self, b1)) >= 3, 20,
                   "both agents deliver")
        old = int(serial_of(cert), 16)
        self.assertEqual(self.presented_serial(self.ca), old)

        # Unusable files: nothing changes, the agents keep delivering.
        with open(ca_file + ".new", "w") as f:
            f.write("not a certificate\n")
        os.replace(ca_file + ".new", ca_file)
        c.p.send_signal(signal.SIGHUP)
        c.wait_log(r"SIGHUP: keeping the current TLS files: ")
        n1 = len(seq_values(self, b1))
        wait_until(lambda: len(seq_values(self, b1)) > n1 + 2, 20, "a1 still delivers")
        self.assertEqual(self.presented_serial(self.ca), old)

        # A renewed collector certificate and a list revoking a0, then SIGHUP.
        run(PKI, "renew", self.pki, "collector", "c1")
        run(PKI, "revoke", self.pki, "agent", "a0")
        new = int(serial_of(cert), 16)
        self.assertNotEqual(new, old)
        shutil.copy(os.path.join(self.pki, "ca+crl.pem"), ca_file + ".new")
        os.replace(ca_file + ".new", ca_file)
        c.p.send_signal(signal.SIGHUP)
        c.wait_log(r"SIGHUP: TLS files reloaded; listening again on tls\+tcp://127\.0\.0\.1:\d+")
        c.wait_log(r"TLS: collector certificate CN=c1 serial ", count=2)
        self.assertEqual(self.presented_serial(self.ca), new)
        # a0 is cut off: its reconnection is refused, and nothing more of it is stored.
        c.wait_log(r"TLS handshake with agent 127\.0\.0\.1:\d+ failed: "
                   r"The certificate has been revoked \(is on a CRL\)")
        n0 = len(seq_values(self, b0))
        # a1 reconnects with the new certificate checked and goes on.
        n1 = len(seq_values(self, b1))
        wait_until(lambda: len(seq_values(self, b1)) > n1 + 5, 20, "a1 delivers after the reload")
        self.assertEqual(len(seq_values(self, b0)), n0, "nothing of the revoked agent after the reload")
        a0.stop()
        # Every frame of a1 stored once, across the reload.
        self.assert_every_seq_once(a1, b1)
        c.wait_log(r"TLS files reloaded")
        self.assertNotIn("NOT LISTENING", c.text())

    def test_sighup_reloads_renewed_certificate_without_loss(self):
        c = self.tls_collector(extra=("--log-level", "debug"))
        a = self.tls_agent("a1")
        boot = boot_of(a)
        wait_until(lambda: len(seq_values(self, boot)) >= 5, 20, "frames before renewal")
        cert, key = self.cert("a1")
        old_serial = serial_of(cert)
        run(PKI, "renew", self.pki, "agent", "a1", "--new-key")
        new_serial = serial_of(cert)
        self.assertNotEqual(old_serial, new_serial)
        a.p.send_signal(signal.SIGHUP)
        line = a.wait_log(r"SIGHUP: TLS files reloaded: certificate CN=a1 serial ([0-9A-F:]+)")[0]
        self.assertEqual(line.replace(":", ""), new_serial)
        c.wait_log(r"TLS: agent CN=a1 connected from", count=2)
        n = len(seq_values(self, boot))
        wait_until(lambda: len(seq_values(self, boot)) >= n + 5, 20, "frames after renewal")
        # unusable new files: the agent says so and keeps its connection
        a0_cert, a0_key = self.cert("a0")
        with open(key, "rb") as f:
            good_key = f.read()
        with open(a0_key, "rb") as f, open(key, "wb") as g:
            g.write(f.read())
        a.p.send_signal(signal.SIGHUP)
        a.wait_log(r"SIGHUP: keeping the current certificate: --tls-key .* is not the key")
        with open(key, "wb") as g:
            g.write(good_key)
        n = len(seq_values(self, boot))
        wait_until(lambda: len(seq_values(self, boot)) >= n + 3, 20, "frames after a failed reload")
        seqs = self.assert_every_seq_once(a, boot)
        agent = [h for h in self.hosts() if h["agent_id"] == "a1"][0]
        self.assertEqual(agent["frames"], len(seqs), "no frame stored twice")
        self.assertNotRegex(c.text(), r"identity|rejected")

    def test_plain_tcp_warns_off_loopback(self):
        # Tests only ever reach loopback: this agent runs in a network
        # namespace of its own (no interface up), so its dial to the
        # documentation address 192.0.2.1 fails inside it and nothing leaves.
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare --net is not permitted here (needs root)")
        p = Proc(["unshare", "--net", AGENT, "--collector", "tcp://192.0.2.1:9", "--interval", "100ms",
                  "--agent-id", "x", "--spool", os.path.join(self.tmp, "x-spool")],
                 os.path.join(self.tmp, "x.log"))
        self.procs.append(p)
        p.wait_log(r"--collector tcp://192\.0\.2\.1:9 is plain tcp:// to another machine")
        p.wait_log(r"agent x \(boot")      # signal handlers are in place from here on
        p.stop()
        self.url = "tcp://127.0.0.1:%d" % self.port
        c = self.collector(*HTTP_OFF)
        a = self.agent()
        wait_until(lambda: self.agent_ids() == ["agent"], 20, "plain loopback delivery")
        a.stop()
        c.stop()
        self.assertNotIn("without TLS", c.text())
        self.assertNotIn("plain tcp://", a.text())

    def test_pki_script(self):
        for f in ("ca.key", "agents/a1.key", "collectors/c1.key"):
            self.assertEqual(os.stat(os.path.join(self.pki, f)).st_mode & 0o777, 0o600, f)
        r = run(PKI, "agent", self.pki, "a1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to overwrite", r.stderr)
        self.assertEqual(run(PKI, "init", self.pki, check=False).returncode, 1)
        self.assertEqual(run(PKI, "agent", self.pki, "bad id", check=False).returncode, 1)
        cert, key = self.cert("a1")
        pub = run("openssl", "pkey", "-in", key, "-pubout").stdout
        run(PKI, "renew", self.pki, "agent", "a1")
        self.assertEqual(run("openssl", "pkey", "-in", key, "-pubout").stdout, pub, "renew keeps the key")
        run(PKI, "agent", self.pki, "a1", "--force")
        self.assertNotEqual(run("openssl", "pkey", "-in", key, "-pubout").stdout, pub)
        text = run(PKI, "show", cert).stdout
        self.assertIn("subject=CN = a1", text)
        self.assertIn("TLS Web Client Authentication", text)
        text = run(PKI, "show", self.cert("c1", kind="collectors")[0]).stdout
        self.assertIn("TLS Web Server Authentication", text)
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertIn("DNS:127.0.0.1", text)
        day = 86400
        for pem, days in ((self.ca, 3650), (cert, 365), (self.cert("c1", kind="collectors")[0], 730)):
            # valid for `days` days: not expiring a day before, expired a day after
            self.assertEqual(run("openssl", "x509", "-in", pem, "-noout", "-checkend",
                                 str((days - 1) * day), check=False).returncode, 0, pem)
            self.assertEqual(run("openssl", "x509", "-in", pem, "-noout", "-checkend",
                                 str((days + 1) * day), check=False).returncode, 1, pem)
        self.assertEqual(run("openssl", "verify", "-CAfile", self.ca, cert).returncode, 0)
        self.assertEqual([f for f in os.listdir(os.path.join(self.pki, "agents")) if ".tmp" in f], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
