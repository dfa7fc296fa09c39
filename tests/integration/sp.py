"""sp - a minimal SP (scalability protocols) REQ client over TCP, for tests.

NNG speaks SP over TCP: an 8-byte handshake (0x00 'S' 'P' 0x00, protocol id,
two reserved bytes), then messages framed by an 8-byte big-endian length. A
REQ message starts with a 4-byte request id whose top bit is set; the REP
answer echoes it. Writing this by hand lets tests send what no well-behaved
client would: garbage, truncations, lies in headers.
"""
import socket
import struct

PROTO_REQ0 = 0x30
PROTO_REP0 = 0x31


class ReqClient:
    def __init__(self, host, port, timeout=10.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.sendall(b"\x00SP\x00" + struct.pack(">H", PROTO_REQ0) + b"\x00\x00")
        hs = self._recv_exact(8)
        if hs[:4] != b"\x00SP\x00" or struct.unpack(">H", hs[4:6])[0] != PROTO_REP0:
            raise IOError("bad handshake from peer: %r" % hs)
        self.next_id = 0x80000001

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("peer closed")
            buf += chunk
        return buf

    def request(self, body):
        rid = self.next_id
        self.next_id += 1
        payload = struct.pack(">I", rid) + body
        self.s.sendall(struct.pack(">Q", len(payload)) + payload)
        n = struct.unpack(">Q", self._recv_exact(8))[0]
        reply = self._recv_exact(n)
        if struct.unpack(">I", reply[:4])[0] != rid:
            raise IOError("reply for another request")
        return reply[4:]

    def close(self):
        self.s.close()


def raw_connect_send(host, port, data, timeout=5.0):
    """Connects, sends raw bytes (no valid handshake needed), returns what came back."""
    got = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        # The peer may drop the connection as soon as it sees garbage: any
        # of these calls can then fail, which is the expected outcome.
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (OSError, socket.timeout):
            pass
    return got
