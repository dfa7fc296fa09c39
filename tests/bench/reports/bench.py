#!/usr/bin/env python3
"""tests/bench/reports/bench.py - timing and results of tests/bench/reports/run.sh.

  bench.py time CLI DATA MONTH RUNS VMS STEP IMPORTLOG IMPORT_S MAINTJSON OUT
      runs `poolwatch report monthly --month MONTH` RUNS times in xlsx and in
      json (alternating), wall time and peak RSS of each, into OUT (JSON)
  bench.py report FULL.json SPARSE.json TENANTS SYSTEMS MD JSON [FULL2.json]
      writes the results file (FULL2: a second full-density run, for the
      estimate's straight line)
Only the standard library."""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import cpu_model  # noqa: E402  (tests/bench/machine.py)


def run_once(cli, data, month, fmt, out):
    t0 = time.monotonic()
    p = subprocess.Popen([cli, "--data", data, "report", "monthly", "--month", month, "--format", fmt, "-o", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("report failed: " + err)
    m = re.search(r"\((\w+), (\d+) VMs, (\d+) suggestions\)", err)
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss,
            "vms": int(m.group(2)) if m else None, "bytes": os.path.getsize(out)}


def cmd_time(cli, data, month, runs, vms, step, importlog, import_s, maintjson, out):
    res = {"month": month, "vms": int(vms), "step_s": int(step), "import_s": float(import_s),
           "runs": {"xlsx": [], "json": []}, "loadavg_before": os.getloadavg()[0]}
    with open(importlog, encoding="utf-8", errors="replace") as f:
        m = re.search(r"(\d+) samples, (\d+) series", f.read())
    if m:
        res["samples"], res["series"] = int(m.group(1)), int(m.group(2))
    try:
        res["maintenance"] = json.load(open(maintjson))
    except (OSError, ValueError):
        res["maintenance"] = None
    for i in range(int(runs)):
        for fmt in ("xlsx", "json"):
            res["runs"][fmt].append(run_once(cli, data, month, fmt, os.path.join(os.path.dirname(out), "r." + fmt)))
    json.dump(res, open(out, "w"), indent=1)


def p50(rs, k):
    return statistics.median(r[k] for r in rs)


def cmd_report(full_p, sparse_p, tenants, systems, md, js, full2_p=None):
    full, sparse = json.load(open(full_p)), json.load(open(sparse_p))
    full2 = json.load(open(full2_p)) if full2_p else None
    cpu = cpu_model()
    ncpu = os.cpu_count()
    target_vms = sparse["vms"]
    # The 10 000-VM figure at full density, where it was not measured:
    #  - line: a straight line through the two full-density runs (time = fixed + per VM x VMs),
    #    extended to the sparse run's VM count;
    #  - linear: the largest full-density run scaled by VMs (its fixed costs scaled too).
    fulls = [d for d in (full, full2) if d is not None]
    big = max(fulls, key=lambda d: d["vms"])
    est = {}
    for fmt in ("xlsx", "json"):
        e = {"linear_s": p50(big["runs"][fmt], "wall_s") / big["vms"] * target_vms,
             "per_vm_ms": p50(big["runs"][fmt], "wall_s") / big["vms"] * 1000}
        if full2 is not None and full2["vms"] != full["vms"]:
            t1, t2 = p50(full["runs"][fmt], "wall_s"), p50(full2["runs"][fmt], "wall_s")
            slope = (t2 - t1) / (full2["vms"] - full["vms"])
            e["line_s"] = t1 + slope * (target_vms - full["vms"])
            e["line_per_vm_ms"] = slope * 1000
            e["line_fixed_s"] = t1 - slope * full["vms"]
        est[fmt] = e
    measured_10k = big["vms"] >= target_vms
    out = {"host": {"cpu": cpu, "cores": ncpu, "kernel": platform.release()}, "full": full, "full2": full2,
           "sparse": sparse, "tenants": int(tenants), "systems": int(systems), "estimate_10k": est}
    json.dump(out, open(js, "w"), indent=1)

    def row(d, fmt):
        rs = d["runs"][fmt]
        return "| %d VMs, a point every %s | %s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f | %d MiB | %.1f MiB |" % (
            d["vms"], "5 min" if d["step_s"] == 300 else "hour", fmt, p50(rs, "wall_s"),
            min(r["wall_s"] for r in rs), max(r["wall_s"] for r in rs), p50(rs, "cpu_s"),
            p50(rs, "wall_s") / d["vms"] * 1000, p50(rs, "maxrss_kib") // 1024, rs[0]["bytes"] / 1048576)

    L = []
    L.append("# Reports benchmark")
    L.append("")
    L.append("`tests/bench/reports/run.sh%s`, %s, %d cores, Linux %s. Month %s, report time zone "
             "Asia/Shanghai, %d using units, %d systems; the report read stored 5-minute rollups "
             "(`pw_eval_pick_res` for a month), after the collector's maintenance had made them."
             % ((" " + os.environ["PW_BENCH_ARGS"]) if os.environ.get("PW_BENCH_ARGS") else "",
                cpu, ncpu, platform.release(), full["month"], int(tenants), int(systems)))
    L.append("")
    L.append("| data set | format | p50 | fastest | slowest | CPU (p50) | ms per VM (p50) | peak RSS | file |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for d in fulls + [sparse]:
        for fmt in ("xlsx", "json"):
            L.append(row(d, fmt))
    L.append("")
    L.append("%d runs per format, alternating xlsx and json, each a fresh `poolwatch report monthly --month %s "
             "--format FMT -o FILE` (wall time of the process: opening the store and inventory, building "
             "the model, writing the file; CPU is user + system time of all its threads: the VMs' buckets "
             "are read on up to %d threads, one per core)." % (len(full["runs"]["xlsx"]), full["month"],
                                                                min(ncpu or 1, 4)))
    L.append("")
    L.append("## What was measured and what is estimated")
    L.append("")
    for d in fulls:
        L.append("- **Measured, full density:** %d VMs with a point every 5 minutes for the whole month in "
                 "every series the report reads (%s samples, %s series; the import took %.0f s). One point "
                 "per 5-minute bucket gives the same 5-minute rollups as a point every 10 s would, so the "
                 "report does the same work as on real data."
                 % (d["vms"], format(d.get("samples", 0), ","), format(d.get("series", 0), ","), d["import_s"]))
    L.append("- **Measured, full inventory:** %d VMs (%d units, %d systems) with a point every hour (%s "
             "samples): the report still reads 5-minute rollups, but finds one bucket in 12. This run has "
             "every cost that grows with the inventory (inventory history, series matching, the model, "
             "writing %s rows) at full size, with 1/12 of the bucket reading."
             % (sparse["vms"], int(tenants), int(systems), format(sparse.get("samples", 0), ","),
                format(sparse["vms"], ",")))
    if not measured_10k:
        L.append("- **Not measured:** %s VMs at full density (%s samples): generating and importing it "
                 "takes longer than this benchmark's budget on this machine (the import alone runs at about "
                 "a million samples a second). **Estimated** from the full-density runs:"
                 % (format(target_vms, ","), format(target_vms * 6 * (8640 + 24), ",")))
        L.append("")
        if full2 is not None:
            L.append("| format | per VM (slope) | fixed | %s VMs, straight line through the %d- and %d-VM runs "
                     "| %s VMs, the %d-VM run scaled | target |"
                     % (format(target_vms, ","), full["vms"], full2["vms"], format(target_vms, ","), big["vms"]))
            L.append("|---|---:|---:|---:|---:|---:|")
            for fmt in ("xlsx", "json"):
                e = est[fmt]
                L.append("| %s | %.3f ms | %.2f s | %.1f s | %.1f s | < 5 s |" % (
                    fmt, e.get("line_per_vm_ms", float("nan")), e.get("line_fixed_s", float("nan")),
                    e.get("line_s", float("nan")), e["linear_s"]))
        else:
            L.append("| format | full density, per VM | %s VMs, the %d-VM run scaled | target |"
                     % (format(target_vms, ","), big["vms"]))
            L.append("|---|---:|---:|---:|")
            for fmt in ("xlsx", "json"):
                e = est[fmt]
                L.append("| %s | %.3f ms | %.1f s | < 5 s |" % (fmt, e["per_vm_ms"], e["linear_s"]))
        L.append("")
        L.append("The line is only as good as the two runs: a run made while the machine was busy (see the "
                 "load averages below) tilts it. The scaled run overstates the fixed part (opening the "
                 "store, the inventory, writing the file) but not the per-VM work; the verdict below takes "
                 "the larger of the two. The full-inventory run above is the check on costs that grow faster "
                 "than the VM count: it has all of them at %s VMs." % format(target_vms, ","))
    L.append("")
    # the verdict takes the larger of the two estimates: a full-density run made while the
    # machine was busy tilts the line one way or the other, the scaled run overstates the fixed part
    worst = max(max(est[f]["linear_s"], est[f].get("line_s", 0)) for f in est)
    if measured_10k:
        worst = max(p50(big["runs"][f], "wall_s") for f in ("xlsx", "json"))
    L.append("**Against the target:** %s (%s %.2f s, target < 5 s, on %d cores with the load below)." % (
        "met" if worst < 5 else "missed", "measured" if measured_10k else "estimated", worst, ncpu))
    if measured_10k:
        slowest = max(r["wall_s"] for f in ("xlsx", "json") for r in big["runs"][f])
        L.append("")
        L.append("That is the p50 of the slower format. The margin is thin: the slowest single run took "
                 "%.2f s, %s the target. Nearly all of the time is the VMs' buckets, read on one thread "
                 "per core (up to 4), so the CPU column is the figure more cores would divide."
                 % (slowest, "above" if slowest >= 5 else "still under"))
    L.append("")
    L.append("No other system generates these reports (they are the regulations' own tables), so there is "
             "no peer to run next to poolwatch here; the comparison is with the target of the issue.")
    L.append("")
    L.append("Load average (1 min) before the timed runs: %s on %d cores. The timing starts as soon as "
             "the benchmark's own maintenance (one busy core) has ended, so about 1 of that is its "
             "one-minute average decaying; above that something else was running, and since the report "
             "uses every core, its wall times are then that much longer (the CPU column is less "
             "affected)."
             % (", ".join("%.2f (%d VMs, %s)" % (d.get("loadavg_before", -1), d["vms"],
                                                  "5 min" if d["step_s"] == 300 else "hour")
                          for d in fulls + [sparse]), ncpu))
    L.append("")
    for d in fulls + [sparse]:
        mt = d.get("maintenance") or {}
        L.append("Maintenance (%d VMs, a point every %s): rollups stored in %s s." % (
            d["vms"], "5 min" if d["step_s"] == 300 else "hour",
            "%.0f" % mt["seconds"] if mt.get("done") else "more than the wait of 900"))
    open(md, "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "time" and len(a) == 11:
        cmd_time(*a[1:])
    elif a and a[0] == "report" and len(a) in (7, 8):
        cmd_report(*a[1:])
    else:
        sys.exit(__doc__)
