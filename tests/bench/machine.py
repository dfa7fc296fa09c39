"""tests/bench/machine.py - what the benchmarks' results say about the machine they ran on.

Shared by the run.sh scripts (which run from the repository root and import it from
tests/bench) and the reports benchmark's bench.py. Standard library only.
"""
import os
import platform


def _first(path, prefix):
    """The rest of the first line of path that starts with prefix, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line[len(prefix):]
    except OSError:
        pass
    return None


def cpu_model():
    v = _first("/proc/cpuinfo", "model name")
    return v.split(":", 1)[1].strip() if v and ":" in v else (platform.processor() or platform.machine())


def machine():
    """nproc, CPU model, MemTotal (KiB), kernel and OS, as the results files print them."""
    mem = _first("/proc/meminfo", "MemTotal:")
    osname = _first("/etc/os-release", "PRETTY_NAME=")
    return {"nproc": os.cpu_count(), "model": cpu_model(),
            "mem_total_kib": int(mem.split()[0]) if mem else 0,
            "kernel": platform.release(),
            "os": osname.strip().strip('"') if osname else "unknown"}
