#!/usr/bin/python3
"""Writes the seed corpus for fuzz_wire into ./corpus (committed output).

Run from tests/fuzz with Debian's python3 and python3-msgpack:
    /usr/bin/python3 make_corpus.py
Seeds cover a valid frame (small and hypervisor-sized), an ack, and one
near-miss per validation rule so the fuzzer starts next to every branch.
"""
import math
import os
import msgpack

TS = 1793000000000
BOOT = bytes(range(16))


def frame(**over):
    f = {
        "v": 1, "agent": "agent-1", "boot": BOOT, "seq": 7, "ts": TS, "host": "node01",
        "ver": "0.1.0",
        "series": [["node_load1"], ["node_cpu_seconds_total", "cpu", "0", "mode", "idle"],
                   ["node_filesystem_avail_bytes", "device", "/dev/vda1", "fstype", "ext4",
                    "mountpoint", "/"]],
        "samples": [[TS, 0, 0.5, 1, 12345, 2, 1 << 40], [TS + 10000, 0, 0.75]],
    }
    f.update(over)
    return {k: v for k, v in f.items() if v is not None}


def big():
    series = [["node_network_receive_bytes_total", "device", "tap%d" % i] for i in range(500)]
    return frame(series=series, samples=[[TS] + [x for i in range(500) for x in (i, i * 1000)]])


seeds = {
    "valid_small": frame(),
    "valid_big": big(),
    "no_ver": frame(ver=None),
    "v2": frame(v=2),
    "seq0": frame(seq=0),
    "bad_metric": frame(series=[["9bad"]], samples=[]),
    "dup_label": frame(series=[["m", "a", "1", "a", "2"]], samples=[[TS, 0, 1]]),
    "sid_oob": frame(samples=[[TS, 9, 1]]),
    "nan": frame(samples=[[TS, 0, math.nan, 1, math.inf]]),
    "old_ts": frame(ts=5),
    "unknown_key": frame(extra={"nested": [1, 2, {"x": b"y"}]}),
    "utf8_labels": frame(series=[["m", "tenant", "使用单位"]], samples=[[TS, 0, 1]]),
    "ack": {"v": 1, "seq": 7, "status": 0, "retry_ms": 0, "msg": ""},
}

os.makedirs("corpus", exist_ok=True)
for name, obj in seeds.items():
    with open(os.path.join("corpus", name + ".mp"), "wb") as fh:
        fh.write(msgpack.packb(obj, use_bin_type=True))
with open(os.path.join("corpus", "huge_array_claim.mp"), "wb") as fh:
    fh.write(b"\xdd\xff\xff\xff\xff")
with open(os.path.join("corpus", "deep_nesting.mp"), "wb") as fh:
    fh.write(b"\x91" * 40 + b"\x01")
