#!/usr/bin/env python3
"""bench.py - helpers for tests/bench/storage/run.sh (not run on its own).

  bench.py port                          print a free loopback TCP port
  bench.py timed OUT STDOUT STDERR TIMEOUT CMD...
                                         run CMD, write wall/CPU/peak RSS to OUT (JSON)
  bench.py proc PID                      utime+stime (s) and VmHWM (KiB) of PID, as JSON
  bench.py diskw PATH                    sync, then the bytes written so far by the block
                                         device holding PATH ("null" if none)
  bench.py wait-maint DIR TIMEOUT OUT    wait until poolwatch's maintenance has no rollup
                                         work left (mdb_stat rollup_todo = 0, stable)
  bench.py mdb DIR OUT                   per-database pages, entries and payload of a store
  bench.py queries PLAN OUT              the benchmark's queries for a data set (JSON)
  bench.py pwlat QUERIES REPS CLI DATA WORK OUT
                                         time `poolwatch query` REPS times per query and
                                         resolution, and `poolwatch --version`
  bench.py vmlat QUERIES REPS URL WORK OUT
                                         time /api/v1/query_range REPS times per query
  bench.py vm-metrics URL OUT            the VictoriaMetrics /metrics figures the report uses
  bench.py vm-settle URL DATADIR LOG TIMEOUT OUT
                                         force_merge VictoriaMetrics until its parts stop
                                         shrinking, then wait until its size is stable
  bench.py report WORK MD JSON           write the results
Only the standard library: it runs on a bare Debian python3.
"""
import http.client
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = 4096


def jdump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def jload(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


# ---------------------------------------------------------------- small tools
def cmd_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_timed(out, so, se, timeout, cmd):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(so, "wb") as fo, open(se, "wb") as fe:
        try:
            rc = subprocess.run(cmd, stdout=fo, stderr=fe, timeout=float(timeout)).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    jdump({"wall_s": wall, "user_s": r1.ru_utime - r0.ru_utime, "sys_s": r1.ru_stime - r0.ru_stime,
           "maxrss_kib": r1.ru_maxrss, "rc": rc, "timed_out": rc == -1}, out)
    sys.exit(0 if rc == 0 else 1)


def cmd_diskw(path):
    """
    Bytes the block device holding PATH has written since boot, after a sync
    (so that what is only in the page cache counts too); "null" where PATH is
    not on a block device (tmpfs, overlay). It counts every writer on that
    device: the benchmark runs one phase at a time.
    """
    os.sync()
    st = os.stat(path)
    try:
        with open(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat") as f:
            print(int(f.read().split()[6]) * 512)      # field 7: sectors written
    except (OSError, ValueError, IndexError):
        print("null")


def proc(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    hwm = rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                comm, rest = f.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue        # the thread ended meanwhile
        t = rest.split()
        threads[comm] = threads.get(comm, 0) + (int(t[11]) + int(t[12])) / CLK_TCK
    return {"cpu_s": (int(st[11]) + int(st[12])) / CLK_TCK, "vmhwm_kib": hwm, "vmrss_kib": rss,
            "threads_cpu_s": threads}


def mdb_entries(d, db):
    out = subprocess.run(["mdb_stat", "-s", db, d], capture_output=True, text=True).stdout
    m = re.search(r"Entries:\s*(\d+)", out)
    return int(m.group(1)) if m else None


def cmd_wait_maint(d, timeout, out):
    """Maintenance is done when rollup_todo stays empty for 3 s (it polls every 10 ms)."""
    t0 = time.monotonic()
    zero_since = None
    polls = []
    while True:
        n = mdb_entries(d, "rollup_todo")
        now = time.monotonic() - t0
        polls.append([round(now, 2), n])
        if n == 0:
            zero_since = now if zero_since is None else zero_since
            if now - zero_since >= 3:
                break
        else:
            zero_since = None
        if now > float(timeout):
            jdump({"done": False, "seconds": now, "polls": polls[-20:]}, out)
            sys.exit(1)
        time.sleep(0.25)
    jdump({"done": True, "seconds": zero_since, "polls": polls[-20:]}, out)


def vm_metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = {}
    for line in text.splitlines():
        if line.startswith("vm_"):
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
    return m


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def cmd_vm_settle(url, datadir, log, timeout, out):
    """
    VictoriaMetrics' force_merge runs in the background and leaves out parts that a
    background merge holds at that moment (on a busy machine, most of them). So:
    wait for background merges to end, force_merge, wait for its "finished" line,
    again until the number of parts stops going down; then wait for a stable size.
    """
    done_line = 'forced merge for partition_prefix="" has been successfully finished'
    t0 = time.monotonic()
    deadline = t0 + float(timeout)

    def parts(m):
        return int(sum(v for k, v in m.items() if k.startswith("vm_parts{") and "storage" in k))

    def busy(m):
        return sum(v for k, v in m.items() if k.startswith(("vm_active_merges", "vm_active_force_merges")))

    def quiet():
        calm = 0
        while time.monotonic() < deadline:
            calm = calm + 1 if busy(vm_metrics(url)) == 0 else 0
            if calm >= 3:
                return True
            time.sleep(0.5)
        return False

    def finished():
        try:
            with open(log, errors="replace") as f:
                return f.read().count(done_line)
        except OSError:
            return 0

    rounds = []
    ok = True
    for _ in range(6):
        ok = quiet()
        before = parts(vm_metrics(url))
        n0 = finished()
        r0 = time.monotonic()
        with urllib.request.urlopen(url + "/internal/force_merge", timeout=60) as r:
            r.read()
        while finished() <= n0 and time.monotonic() < deadline:
            time.sleep(0.1)
        ok = ok and finished() > n0 and quiet()
        after = parts(vm_metrics(url))
        rounds.append({"parts_before": before, "parts_after": after, "seconds": time.monotonic() - r0})
        if not ok or after >= before:
            break
    last, stable = -1, 0
    while time.monotonic() < deadline and stable < 3:
        size = du(datadir)
        stable = stable + 1 if size == last else 0
        last = size
        time.sleep(1)
    jdump({"ok": ok and stable >= 3, "rounds": rounds, "seconds": time.monotonic() - t0,
           "merge_s": sum(r["seconds"] for r in rounds)}, out)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- LMDB breakdown
def uvarint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def chunk_points(raw):
    """Points in a chunk, or in a pack of sealed chunks (storage format 3: 0x80, then uvarint length + chunk each)."""
    if raw[0] != 0x80:
        return uvarint(raw, 2)[0]
    i, n = 1, 0
    while i < len(raw):
        ln, i = uvarint(raw, i)
        n += uvarint(raw, i + 2)[0]
        i += ln
    return n


def group_points(raw):
    """Open chunks and their points in a group record of chunk_head (storage format 5:
    0x01, then per series a slot byte, a uvarint length and the open chunk)."""
    i, n, pts = 1, 0, 0
    while i < len(raw):
        ln, i = uvarint(raw, i + 1)
        pts += uvarint(raw, i + 2)[0]
        n += 1
        i += ln
    return n, pts


def store_format(d):
    """meta["format"] of the store in d (u32 big-endian)."""
    out = subprocess.run(["mdb_dump", "-s", "meta", d], capture_output=True, text=True).stdout.split()
    key = b"format".hex()
    for i, line in enumerate(out[:-1]):
        if line == key:
            return int(out[i + 1], 16)
    return None


def mdb_payload(d, db, grouped=False):
    """Entries, key and value bytes of one database (mdb_dump), points for chunk tables
    (and for grouped open chunks, how many series have one)."""
    p = subprocess.Popen(["mdb_dump", "-s", db, d], stdout=subprocess.PIPE, text=True)
    keys = vals = n = pts = opened = 0
    vmax = 0
    hdr = True
    key = None
    for line in p.stdout:
        if hdr:
            hdr = line.strip() != "HEADER=END"
            continue
        if line.startswith("DATA=END"):
            break
        h = line.strip()
        if key is None:
            key = h
            continue
        kb, vb = len(key) // 2, len(h) // 2
        keys += kb
        vals += vb
        vmax = max(vmax, vb)
        n += 1
        if db == "chunk_head" and grouped:
            o, c = group_points(bytes.fromhex(h))
            opened += o
            pts += c
        elif db in ("chunks", "chunk_head") and vb > 2:
            pts += chunk_points(bytes.fromhex(h))
            opened += 1
        key = None
    p.wait()
    return {"entries": n, "key_bytes": keys, "value_bytes": vals, "max_value_bytes": vmax,
            "points": pts if db in ("chunks", "chunk_head") else None,
            "open_chunks": opened if db == "chunk_head" else None}


def rollup_marks(d):
    """rollup_mark: per resolution (1 = 5m, 2 = 1h, 3 = 1d), how many series have their mark at each time."""
    p = subprocess.run(["mdb_dump", "-s", "rollup_mark", d], capture_output=True, text=True).stdout.splitlines()
    marks = {}
    i = p.index("HEADER=END") + 1 if "HEADER=END" in p else len(p)
    while i + 1 < len(p) and not p[i].startswith("DATA=END"):
        k, v = bytes.fromhex(p[i].strip()), bytes.fromhex(p[i + 1].strip())
        i += 2
        if len(k) == 9 and len(v) == 8:
            res = {1: "5m", 2: "1h", 3: "1d"}.get(k[8], str(k[8]))
            t = int.from_bytes(v, "big", signed=True)
            marks.setdefault(res, {}).setdefault(t, 0)
            marks[res][t] += 1
    return {r: sorted([t, n] for t, n in m.items()) for r, m in marks.items()}


def cmd_mdb(d, out):
    env = subprocess.run(["mdb_stat", "-ef", d], capture_output=True, text=True, check=True).stdout
    allst = subprocess.run(["mdb_stat", "-a", d], capture_output=True, text=True, check=True).stdout
    info = {}
    for key, pat in (("page_size", r"Page size:\s*(\d+)"), ("pages_used", r"Number of pages used:\s*(\d+)"),
                     ("free_pages", r"Free pages:\s*(\d+)"), ("map_size", r"Map size:\s*(\d+)"),
                     ("last_txn", r"Last transaction ID:\s*(\d+)")):
        m = re.search(pat, env)
        info[key] = int(m.group(1)) if m else None
    fl = re.search(r"Freelist Status(.*?)(?:Status of|\Z)", env, re.S)
    info["freelist_db_pages"] = sum(int(x) for x in re.findall(r"(?:Branch|Leaf|Overflow) pages:\s*(\d+)", fl.group(1))) if fl else 0
    dbs = {}
    for block in re.split(r"(?m)^Status of ", allst)[1:]:
        name = block.split("\n", 1)[0].strip()
        def g(p):
            m = re.search(p + r":\s*(\d+)", block)
            return int(m.group(1)) if m else 0
        dbs[name] = {"depth": g("Tree depth"), "branch_pages": g("Branch pages"), "leaf_pages": g("Leaf pages"),
                     "overflow_pages": g("Overflow pages"), "entries": g("Entries")}
    info["format"] = store_format(d)
    for name in dbs:
        if name == "Main DB":
            continue
        if dbs[name]["entries"]:
            dbs[name].update(mdb_payload(d, name, grouped=(info["format"] or 0) >= 5))
    # mdb_stat counts a DUPSORT database's main tree only, not the sub-trees of keys
    # with many duplicates. In storage format 4 (a `symbols` database) nearly all of
    # those are series_hash's (one key per metric name, its series as duplicates):
    # the pages in use that no tree, the free list or the meta pages account for.
    listed = sum(v["branch_pages"] + v["leaf_pages"] + v["overflow_pages"] for v in dbs.values())
    if "symbols" in dbs and "series_hash" in dbs and info["pages_used"]:
        sub = info["pages_used"] - (info["free_pages"] or 0) - info["freelist_db_pages"] - 2 - listed
        dbs["series_hash"]["sub_pages"] = max(sub, 0)
        dbs["series_hash"]["leaf_pages"] += max(sub, 0)
    info["dbs"] = dbs
    info["rollup_marks"] = rollup_marks(d) if dbs.get("rollup_mark", {}).get("entries") else {}
    st = os.stat(os.path.join(d, "data.mdb"))
    info["file_bytes"] = st.st_size
    info["allocated_bytes"] = st.st_blocks * 512
    jdump(info, out)


# ---------------------------------------------------------------- queries
def cmd_queries(plan_path, out):
    p = jload(plan_path)
    end = p["end_ms"] // 1000
    qs = [
        {"name": "q30d", "title": "30 days, one series, 1h step",
         "expr": 'avg_over_time(node_load1{host="host-%s"}[1h])' % ("0" * (4 if p["hosts"] <= 10000 else 6)),
         "from": end - 30 * 86400, "to": end, "step": 3600},
        {"name": "q1d", "title": f"1 day, {p['hosts']} hosts, 5m step",
         "expr": "sum by (pool) (avg_over_time(node_load1[5m]))",
         "from": end - 86400, "to": end, "step": 300},
    ]
    main_s = (p["end_ms"] - p["main_start_ms"]) // 1000
    if main_s >= 600:
        step = 60 if main_s <= 6 * 3600 else 300
        frm = p["main_start_ms"] // 1000
        frm += (-frm) % step
        qs.append({"name": "qrate", "title": f"counters of {p['hosts']} hosts over the main block ({main_s // 60} min), {step // 60}m step",
                   "expr": "sum by (pool) (rate(node_network_receive_bytes_total[5m]))",
                   "from": frm, "to": end, "step": step})
    for q in qs:
        q["from"] -= q["from"] % q["step"]
    jdump(qs, out)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    i = (len(xs) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def stats(xs):
    return {"n": len(xs), "p50_ms": pct(xs, 0.5) * 1e3, "p99_ms": pct(xs, 0.99) * 1e3,
            "min_ms": min(xs) * 1e3, "max_ms": max(xs) * 1e3, "mean_ms": statistics.fmean(xs) * 1e3}


def time_cmd(cmd, out_path, timeout=300):
    with open(out_path, "wb") as f:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, timeout=timeout)
        dt = time.perf_counter() - t0
    return dt, r.returncode, r.stderr.decode(errors="replace").strip()


def cmd_pwlat(queries, reps, cli, data, work, out):
    qs = jload(queries)
    reps = int(reps)
    res = {"reps": reps, "warmup": 2, "queries": {}}
    ver = []
    for i in range(reps + 2):
        dt, rc, _ = time_cmd([cli, "--version"], os.devnull)
        if i >= 2:
            ver.append(dt)
    res["startup"] = stats(ver)
    for q in qs:
        for mode in ("auto", "raw"):
            cmd = [cli, "--data", data, "query", q["expr"], "--from", str(q["from"]), "--to", str(q["to"]),
                   "--step", f"{q['step']}s", "--res", mode, "--format", "json"]
            path = os.path.join(work, f"pw-{q['name']}-{mode}.json")
            times, err, rc = [], "", 0
            for i in range(reps + 2):
                dt, rc, err = time_cmd(cmd, path)
                if rc != 0:
                    break
                if i >= 2:
                    times.append(dt)
            r = {"cmd": " ".join(cmd[1:]), "rc": rc, "stderr": err[:500]}
            if times:
                r.update(stats(times))
            res["queries"][f"{q['name']}/{mode}"] = r
            print(f"bench: poolwatch {q['name']} --res {mode}: " +
                  (f"p50 {r['p50_ms']:.1f} ms" if times else f"failed (exit {rc}): {err[:200]}"), file=sys.stderr)
    jdump(res, out)


def cmd_vmlat(queries, reps, url, work, out):
    qs = jload(queries)
    reps = int(reps)
    u = urllib.parse.urlparse(url)
    res = {"reps": reps, "warmup": 2, "queries": {}}
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    for q in qs:
        body = urllib.parse.urlencode({"query": q["expr"], "start": q["from"], "end": q["to"], "step": q["step"]})
        times, data, status = [], b"", 0
        for i in range(reps + 2):
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/query_range", body=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            status = r.status
            if status != 200:
                break
            if i >= 2:
                times.append(dt)
        with open(os.path.join(work, f"vm-{q['name']}.json"), "wb") as f:
            f.write(data)
        r = {"status": status, "body": data[:300].decode(errors="replace") if status != 200 else ""}
        if times:
            r.update(stats(times))
        res["queries"][q["name"]] = r
        print(f"bench: VictoriaMetrics {q['name']}: " + (f"p50 {r['p50_ms']:.1f} ms" if times else f"HTTP {status}"),
              file=sys.stderr)
    jdump(res, out)


def cmd_vm_metrics(url, out):
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    want = ("vm_rows_inserted_total{type=\"prometheus\"}", "vm_new_timeseries_created_total",
            "vm_rows_ignored_total", "vm_data_size_bytes", "vm_rows{", "vm_parts{",
            "vm_active_force_merges", "process_resident_memory_peak_bytes", "vm_deduplicated_samples_total",
            "vm_rows_invalid_total", "vm_too_long_", "vm_app_version")
    m = {}
    for line in text.splitlines():
        if line.startswith(want):
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
    jdump(m, out)



# ---------------------------------------------------------------- comparison
def load_pw(path):
    data = jload(path)
    if data is None:
        return None
    out = {}
    for s in data:
        key = tuple(sorted(s["labels"].items()))
        out[key] = {int(t) // 1000: v for t, v in s["points"] if v is not None}
    return out


def load_vm(path):
    data = jload(path)
    if not data or data.get("status") != "success":
        return None
    out = {}
    for s in data["data"]["result"]:
        key = tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__"))
        out[key] = {int(t): float(v) for t, v in s["values"]}
    return out


def compare(a, b, skip_first=0):
    """a vs b: series and points in both, relative differences of the common points."""
    if a is None or b is None:
        return None
    common = set(a) & set(b)
    diffs = []
    only_a = only_b = 0
    for k in common:
        ts_a, ts_b = a[k], b[k]
        first = min(list(ts_a) + list(ts_b)) if (ts_a or ts_b) else 0
        for t in set(ts_a) | set(ts_b):
            if t < first + skip_first:
                continue
            if t in ts_a and t in ts_b:
                x, y = ts_a[t], ts_b[t]
                m = max(abs(x), abs(y))
                diffs.append(0.0 if m == 0 else abs(x - y) / m)
            elif t in ts_a:
                only_a += 1
            else:
                only_b += 1
    diffs.sort()
    return {"series_a": len(a), "series_b": len(b), "series_common": len(common), "points_common": len(diffs),
            "points_only_a": only_a, "points_only_b": only_b,
            "max_rel_diff": diffs[-1] if diffs else None, "median_rel_diff": pct(diffs, 0.5) if diffs else None,
            "p99_rel_diff": pct(diffs, 0.99) if diffs else None,
            "over_1e-9": sum(1 for d in diffs if d > 1e-9)}


# ---------------------------------------------------------------- report
def fmt(x, nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ")
    return f"{x:.{nd}f}"


def fnum(x):
    return "n/a" if x is None else f"{x:,.0f}".replace(",", " ")


def hm(ms):
    m = round(ms / 60000)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def mib(x):
    return "n/a" if x is None else f"{x / 1048576:.1f}"


def cmd_report(work, md_out, json_out):
    J = lambda n: jload(os.path.join(work, n))  # noqa: E731
    meta, plan, qs = J("meta.json"), J("plan.json"), J("queries.json") or []
    imp, imp_sum, maint = J("pw-import.json"), J("pw-import-summary.json") or {}, J("pw-maint.json") or {}
    mdb_before, mdb = J("pw-mdb-import.json"), J("pw-mdb.json")
    nng, nng_tuned, nng_one = J("nng.json"), J("nng-tuned.json"), J("nng-one.json")
    disk_imp, disk_vm, disk_vm_merge = (J(f) or {} for f in ("pw-import-disk.json", "vm-import-disk.json",
                                                            "vm-merge-disk.json"))
    vmimp, vmm, vmsize = J("vm-import.json") or {}, J("vm-metrics.json") or {}, J("vm-size.json") or {}
    pwl, vml = J("pw-lat.json") or {"queries": {}}, J("vm-lat.json") or {"queries": {}}
    N = plan["samples"]
    R = {"meta": meta, "plan": plan, "queries": qs}
    L = []
    add = L.append

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    # ---- ingest
    pw_imp_rate = N / imp["wall_s"] if imp and imp.get("rc") == 0 else None
    vm_wall = (vmimp.get("import_s") or 0) + (vmimp.get("flush_s") or 0) if vmimp.get("ok") else None
    vm_rate = N / vm_wall if vm_wall else None
    nng_rate = nng["samples_acked"] / nng["elapsed_s"] if nng and nng.get("elapsed_s") else None
    nngt_rate = nng_tuned["samples_acked"] / nng_tuned["elapsed_s"] if nng_tuned and nng_tuned.get("elapsed_s") else None
    # ---- size
    pw_bytes = mdb["file_bytes"] if mdb else None
    pw_bps = pw_bytes / N if pw_bytes else None
    vm_bytes = vmsize.get("total")
    vm_bps = vm_bytes / N if vm_bytes else None
    R["ingest"] = {"poolwatch_import": {"samples_per_s": pw_imp_rate, **(imp or {}), "summary": imp_sum},
                   "poolwatch_nng": {"samples_per_s": nng_rate, **(nng or {})},
                   "poolwatch_nng_tuned": {"samples_per_s": nngt_rate, **(nng_tuned or {})} if nng_tuned else None,
                   "poolwatch_nng_one_agent": nng_one,
                   "victoriametrics_import": {"samples_per_s": vm_rate, **vmimp}}
    R["disk_written_bytes"] = {"poolwatch_import": disk_imp.get("bytes"),
                               "poolwatch_nng": (nng or {}).get("disk_written_bytes"),
                               "poolwatch_nng_one_agent": (nng_one or {}).get("disk_written_bytes"),
                               "victoriametrics_import": disk_vm.get("bytes"),
                               "victoriametrics_merges": disk_vm_merge.get("bytes")}
    R["size"] = {"poolwatch": {"bytes": pw_bytes, "bytes_per_sample": pw_bps, "mdb": mdb,
                               "mdb_before_maintenance": mdb_before, "maintenance": maint},
                 "victoriametrics": {"bytes": vm_bytes, "bytes_per_sample": vm_bps, **vmsize, "metrics": vmm}}
    R["latency"] = {"poolwatch": pwl, "victoriametrics": vml}

    add("# Storage benchmark: poolwatch against VictoriaMetrics")
    add("")
    add("Generated by `tests/bench/storage/run.sh`; overwritten on every run. See `tests/bench/README.md` "
        "(section *storage*) for what is measured and how to read it.")
    add("")
    m = meta["machine"]
    add(f"- date: {meta['date']}")
    add(f"- machine: {m['nproc']} CPU(s), {m['model']}, {m['mem_total_kib'] // 1024} MiB RAM, kernel {m['kernel']}, "
        f"{m['os']}; data on {meta['fs']}")
    add(f"- versions: {meta['versions']['poolwatch']}; VictoriaMetrics {meta['versions']['victoriametrics']}")
    add(f"- command: `{meta['command']}`")
    span_main = (plan["end_ms"] - plan["main_start_ms"]) / 60000
    add(f"- data: {fmt(N)} samples in {fmt(plan['series'])} series, {plan['hosts']} hosts in {plan['pools']} pools "
        f"(labels `host`, `pool`), one sample per series every {plan['step_ms'] // 1000} s "
        f"(timestamps {plan['timestamps']}{' on the 10 s grid, as poolwatch-agent stamps them' if plan['timestamps'] == 'aligned' else ': per-host phase plus 0-3 ms jitter'}), seed {plan['seed']}, "
        f"ending {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(plan['end_ms'] / 1000))}:")
    add(f"  - every host: {plan['series_per_host']} series ({plan['counters_per_host']} counters: cpu seconds in 1/100 s, "
        f"network and disk bytes, packets, I/Os, all reset by a reboot of {plan['reboots']} hosts; {plan['gauges_per_host']} gauges: "
        f"load, memory, filesystems, procs, temperatures, frequencies, a 4-decimal ratio, moving every step or now and then; "
        f"{plan['constants_per_host']} constants: sizes, speeds, `*_info`) over the last {span_main:.0f} min "
        f"({plan['main_steps']} steps, {fmt(plan['main_samples'])} samples: the *main block*);")
    add(f"  - `node_load1` of every host over the last day, and of {plan['long_hosts']} hosts over the last 30 days "
        f"({fmt(N - plan['main_samples'])} more samples);")
    add(f"  - written as one Prometheus text file ({mib(meta.get('file_bytes'))} MiB, ms timestamps) in "
        f"{'time order, as a scraper produces it (every series at t, then t + 10 s)' if plan['order'] == 'time' else 'series order, as `promtool tsdb dump` or a VictoriaMetrics export gives it'}; "
        "both systems import that same file.")
    add("")

    # ---- main table
    add("## Results")
    add("")
    add("| measure | poolwatch | VictoriaMetrics | ratio | target | met? |")
    add("|---|---:|---:|---:|---|---|")

    def verdict(ok):
        return "n/a" if ok is None else ("**yes**" if ok else "**no**")

    r_imp = ratio(pw_imp_rate, vm_rate)
    add(f"| ingest, same file (`poolwatch import` / `POST /api/v1/import/prometheus` + force_flush), samples/s | "
        f"{fnum(pw_imp_rate)} | {fnum(vm_rate)} | {fmt(r_imp)} (poolwatch / VM) | poolwatch >= VM | "
        f"{verdict(None if r_imp is None else r_imp >= 1)} |")
    r_nng = ratio(nng_rate, vm_rate)
    if nng:
        add(f"| ingest over NNG, {nng['agents']} agents, main block only, samples/s acked | {fnum(nng_rate)} | "
            f"({fnum(vm_rate)}, import) | {fmt(r_nng)} (poolwatch / VM) | poolwatch >= VM | "
            f"{verdict(None if r_nng is None else r_nng >= 1)} |")
    if nng_tuned:
        add(f"| the same, collector `{meta.get('tuned_flags', '')}` (not the default) | {fnum(nngt_rate)} | "
            f"({fnum(vm_rate)}, import) | {fmt(ratio(nngt_rate, vm_rate))} (poolwatch / VM) | | |")
    r_b = ratio(vm_bps, pw_bps)
    add(f"| bytes per sample on disk (poolwatch `data.mdb` after maintenance; VM `du -sb` of its data path after "
        f"force_flush + force_merge) | {fmt(pw_bps, 3)} | {fmt(vm_bps, 3)} | {fmt(r_b)} (VM / poolwatch; "
        f"poolwatch is {fmt(ratio(pw_bps, vm_bps))}x VM) | poolwatch <= VM | {verdict(None if r_b is None else r_b >= 1)} |")
    add(f"| bytes per sample on disk, absolute | {fmt(pw_bps, 3)} | {fmt(vm_bps, 3)} | | poolwatch <= 1.0 | "
        f"{verdict(None if pw_bps is None else pw_bps <= 1.0)} |")
    add(f"| disk, total MiB | {mib(pw_bytes)} | {mib(vm_bytes)} | | | |")
    startup = pwl.get("startup", {}).get("p50_ms")
    for q in qs:
        pa, pr, v = pwl["queries"].get(f"{q['name']}/auto", {}), pwl["queries"].get(f"{q['name']}/raw", {}), vml["queries"].get(q["name"], {})
        if "p50_ms" not in pa and "p50_ms" not in v:
            continue
        add(f"| query {q['name']} ({q['title']}), p50 / p99 ms | {fmt(pa.get('p50_ms'), 1)} / {fmt(pa.get('p99_ms'), 1)} | "
            f"{fmt(v.get('p50_ms'), 1)} / {fmt(v.get('p99_ms'), 1)} | {fmt(ratio(pa.get('p50_ms'), v.get('p50_ms')))} "
            f"(poolwatch / VM, p50) | | |")
    add("")
    add("Ratios are from this one run. Ingest: wall time from the first byte read to the data being durable "
        "(poolwatch: every batch committed with fsync; VM: the import request answered, then `/internal/force_flush` "
        "returned, which makes it searchable but VM does not fsync per request). Query times are warm (2 unmeasured runs "
        f"first), {pwl.get('reps')} repetitions each; with {pwl.get('reps')} runs p99 is about the second-slowest run.")
    add("")

    # ---- queries in detail
    add("## Queries")
    add("")
    add(f"poolwatch is timed as a command, `poolwatch --data DIR query EXPR --from --to --step --res R --format json` with "
        f"the JSON written to a file: process start-up is part of each figure. `poolwatch --version` takes "
        f"{fmt(startup, 2)} ms (p50) here; the *minus start-up* column subtracts it. `--res auto` (the default) reads "
        "rollups where the step allows; `--res raw` forces raw points. VictoriaMetrics is timed as one HTTP POST "
        "to `/api/v1/query_range` on a kept-alive connection, until the whole answer is read; it runs with "
        "`-search.disableCache` so that every repetition computes the answer instead of returning the cached one.")
    add("")
    add("| query | expression | range, step | poolwatch auto p50 / p99 ms | minus start-up p50 | poolwatch raw p50 / p99 ms | VM p50 / p99 ms | poolwatch auto / VM (p50) |")
    add("|---|---|---|---:|---:|---:|---:|---:|")
    for q in qs:
        pa, pr, v = pwl["queries"].get(f"{q['name']}/auto", {}), pwl["queries"].get(f"{q['name']}/raw", {}), vml["queries"].get(q["name"], {})
        rng = f"{(q['to'] - q['from']) / 86400:.2f} d" if q['to'] - q['from'] >= 86400 else f"{(q['to'] - q['from']) / 60:.0f} min"
        minus = pa.get("p50_ms") - startup if pa.get("p50_ms") is not None and startup is not None else None
        add(f"| {q['name']} | `{q['expr']}` | {rng}, {q['step']} s | {fmt(pa.get('p50_ms'), 1)} / {fmt(pa.get('p99_ms'), 1)} | "
            f"{fmt(minus, 1)} | {fmt(pr.get('p50_ms'), 1)} / {fmt(pr.get('p99_ms'), 1)} | {fmt(v.get('p50_ms'), 1)} / "
            f"{fmt(v.get('p99_ms'), 1)} | {fmt(ratio(pa.get('p50_ms'), v.get('p50_ms')))} |")
        for label, r in (("poolwatch auto", pa), ("poolwatch raw", pr)):
            if r and r.get("rc", 0) != 0:
                add(f"|  | {label} failed (exit {r['rc']}): `{r.get('stderr', '')[:200]}` | | | | | | |")
        if v and v.get("status", 200) != 200:
            add(f"|  | VM answered HTTP {v['status']}: `{v.get('body', '')[:200]}` | | | | | | |")
    add("")
    # answers compared
    cmp_rows = []
    for q in qs:
        vm = load_vm(os.path.join(work, f"vm-{q['name']}.json"))
        for mode in ("raw", "auto"):
            pw = load_pw(os.path.join(work, f"pw-{q['name']}-{mode}.json"))
            skip = 300 if q["name"] == "qrate" else 0
            c = compare(pw, vm, skip)
            if c:
                c["query"], c["mode"] = q["name"], mode
                cmp_rows.append(c)
    R["answers_compared"] = cmp_rows
    if cmp_rows:
        add("Answers compared (poolwatch against VictoriaMetrics, series matched on their labels without the "
            "metric name, points on their time; relative difference |a - b| / max(|a|, |b|)):")
        add("")
        add("| query | poolwatch --res | series pw / VM / both | points in both | only pw | only VM | median rel. diff | max rel. diff | points differing > 1e-9 |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for c in cmp_rows:
            add(f"| {c['query']} | {c['mode']} | {c['series_a']} / {c['series_b']} / {c['series_common']} | {fmt(c['points_common'])} | "
                f"{fmt(c['points_only_a'])} | {fmt(c['points_only_b'])} | {c['median_rel_diff']:.2e} | {c['max_rel_diff']:.2e} | {fmt(c['over_1e-9'])} |"
                if c["points_common"] else
                f"| {c['query']} | {c['mode']} | {c['series_a']} / {c['series_b']} / {c['series_common']} | 0 | {fmt(c['points_only_a'])} | {fmt(c['points_only_b'])} | | | |")
        add("")
        add("`--res raw` agrees with VictoriaMetrics up to float rounding where the two define a function the same way. "
            "`rate` they do not: Prometheus' (which poolwatch follows) extrapolates the increase seen inside the window to "
            "the window's edges, VictoriaMetrics' (MetricsQL) takes the increase from the last sample before the window and "
            "does not extrapolate; `qrate` leaves out the first 5 minutes of the main block, where the window is not yet "
            "full and the two differ most. `--res auto` reads rollup buckets `[t - w, t)` where PromQL's window is "
            "`(t - w, t]`: on timestamps on the bucket grid (the agent's) each window is shifted by one sample, and the "
            "first step of a series' data is missing (`collector/README.md`, RES), hence the large maximum at the first step of `q1d`.")
        add("")

    # ---- ingest detail
    add("## Ingest in detail")
    add("")
    def wps(b, n):
        """Disk bytes written per sample, as a cell."""
        return fmt(b / n, 1) if b is not None and n else "n/a"
    add("| path | samples | wall s | samples/s | CPU s (user+sys) | CPU s per million samples | peak RSS MiB | "
        "disk written, B/sample | notes |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    if imp:
        cpu = imp["user_s"] + imp["sys_s"]
        add(f"| `poolwatch import FILE` (fresh data dir) | {fmt(N)} | {fmt(imp['wall_s'])} | {fnum(pw_imp_rate)} | {fmt(cpu)} | "
            f"{fmt(cpu / N * 1e6)} | {fmt(imp['maxrss_kib'] / 1024, 1)} | {wps(disk_imp.get('bytes'), N)} | "
            f"{imp_sum.get('line', '')} |")
    imps, imps_sum, mdbs = J("pw-import-series.json"), J("pw-import-series-summary.json") or {}, J("pw-mdb-series.json")
    if imps and imps.get("rc") == 0:
        cpu = imps["user_s"] + imps["sys_s"]
        add(f"| supplementary: `poolwatch import` of the same samples in series order (each series' points together, as a "
            f"dump gives them), fresh data dir | {fmt(N)} | {fmt(imps['wall_s'])} | {fnum(N / imps['wall_s'])} | {fmt(cpu)} | "
            f"{fmt(cpu / N * 1e6)} | {fmt(imps['maxrss_kib'] / 1024, 1)} | n/a | {imps_sum.get('line', '')}; data.mdb "
            f"{mib(mdbs['file_bytes']) if mdbs else 'n/a'} MiB = {fmt(mdbs['file_bytes'] / N, 3) if mdbs else 'n/a'} B/sample "
            f"before maintenance ({fmt(mdbs['free_pages']) if mdbs else 'n/a'} free pages) |")
        R["ingest"]["poolwatch_import_series_order"] = {"samples_per_s": N / imps["wall_s"], **imps, "summary": imps_sum,
                                                         "mdb": mdbs}
    for label, n, flags in (("NNG, collector defaults", nng, "(defaults)"),
                            ("NNG, tuned collector", nng_tuned, meta.get("tuned_flags", "")),
                            ("NNG, one agent, two days of its 100 series, every frame a transaction of its own", nng_one,
                             "(defaults)")):
        if not n:
            continue
        cs = n.get("collector_cpu_s")
        rate = n["samples_acked"] / n["elapsed_s"] if n.get("elapsed_s") else None
        mdbb = f"; data.mdb {mib(n['data_mdb_bytes'])} MiB" if n is nng_one and n.get("data_mdb_bytes") else ""
        who = f"{n['agents']} agents (one req socket each, stop-and-wait)" if n["agents"] != 1 else "stop-and-wait"
        add(f"| {label}: {who} to `poolwatch-collector {flags}`".rstrip() +
            f" | {fmt(n['samples_acked'])} | {fmt(n['elapsed_s'])} | {fnum(rate)} | collector {fmt(cs)} (+ generator {fmt(n['generator_cpu_s'])}) | "
            f"{fmt(cs / n['samples_acked'] * 1e6) if cs and n['samples_acked'] else 'n/a'} | {fmt((n.get('collector_vmhwm_kib') or 0) / 1024, 1)} | "
            f"{wps(n.get('disk_written_bytes'), n['samples_acked'])} | frames stored {fmt(n['frames_stored'])} of {fmt(n['frames_planned'])}, retry {n['frames_retry']}, rejected {n['frames_rejected']}, "
            f"errors {n['errors']}{', TIMED OUT' if n.get('timed_out') else ''}; ack round trip p50 {fmt(n['ack_ms_p50'], 0)} ms, "
            f"p99 {fmt(n['ack_ms_p99'], 0)} ms{mdbb} |")
    vm_rows = vmm.get('vm_rows_inserted_total{type="prometheus"}', 0)
    if vmimp.get("ok"):
        add(f"| VM `POST /api/v1/import/prometheus` (curl -T, streamed) + `/internal/force_flush` | {fmt(int(vm_rows))} | "
            f"{fmt(vm_wall)} | {fnum(vm_rate)} | {fmt(vmimp.get('cpu_s'))} | {fmt(vmimp['cpu_s'] / N * 1e6) if vmimp.get('cpu_s') else 'n/a'} | "
            f"{fmt((vmimp.get('vmhwm_kib') or 0) / 1024, 1)} | {wps(disk_vm.get('bytes'), N)} | import {fmt(vmimp.get('import_s'))} s + "
            f"flush {fmt(vmimp.get('flush_s'), 3)} s; {int(vmm.get('vm_new_timeseries_created_total', 0))} series created; "
            f"its merges until force_merge settled wrote {wps(disk_vm_merge.get('bytes'), N)} B/sample more |")
    add("")
    add("The NNG rows send only the main block (one frame per host and 10 s step, ~100 samples each, the host label "
        "from the frame header, as `poolwatch-agent` ships), into a fresh data directory; the load generator runs on the "
        "same machine and its CPU is shown (it encodes every frame before the clock starts, as agents on other machines "
        "would have: the run measures sending, storing and acking). Every frame is acked only after its commit (fsync). "
        "The one-agent row sends two days of one host instead"
        + (f" ({fmt(nng_one['frames_stored'])} frames)" if nng_one else "") + ", one frame at a time.")
    add("")
    add("*Disk written* is what the block device under the data directories wrote from the start of a run until its data "
        "was durable (`/sys/dev/block/.../stat`, after a `sync`; file system journal included), divided by the samples "
        "stored: what the disk wears per sample, not what it keeps (that is the next section).")
    one_w = nng_one.get("disk_written_bytes") if nng_one else None
    if one_w is not None and nng_one.get("samples_acked"):
        per_frame = one_w / nng_one["frames_stored"] if nng_one.get("frames_stored") else None
        bps = one_w / nng_one["samples_acked"]
        rate = 1000 * 100 / 10          # 1000 agents of 100 series at 10 s
        vmb = disk_vm.get("bytes")
        add("")
        add(f"Writes at a deployment's pace: with a frame per transaction (the one-agent row) poolwatch writes "
            f"{fmt(bps, 0)} bytes per sample, {fmt(per_frame / 1024, 1) if per_frame else 'n/a'} KiB per frame of 100 samples. "
            f"Every commit copies on write the LMDB pages it changes: the record of open chunks each series of the frame "
            f"is in (64 series' open chunks, which grow up to a seal at 720 points), the B-tree pages above it, the agent's "
            f"record and dedupe row, LMDB's free list and meta page. 1,000 agents of 100 series at 10 s "
            f"({fnum(rate)} samples/s, frames seldom sharing a commit) would have the disk write about "
            f"{fmt(bps * rate / 1e6, 1)} MB/s, {fmt(bps * rate * 86400 / 1e9, 0)} GB a day, to keep about "
            f"{fmt(rate * 86400 * (pw_bps or 0) / 1e9, 1)} GB a day."
            + (f" VictoriaMetrics wrote {fmt(vmb / N, 1)} B/sample for its import (it buffers recent samples in memory "
               f"and writes them compressed, then merges parts: {wps(disk_vm_merge.get('bytes'), N)} B/sample more until "
               f"force_merge settled), at the price of losing the last seconds of samples on a crash; poolwatch acks a "
               f"frame only once it is on disk." if vmb is not None else "")
            + " Batched commits divide the per-commit part (the 1000-agent row); what would divide the rest is to append "
            "each frame once, as a small record of its samples (still in the commit that acks it), and fold those "
            "records into the open chunks of a group every few minutes, many frames at once, in the writer's spare time "
            "(queries read the records not yet folded, as they read rollup buckets not yet stored).")
    add("")

    # ---- size detail
    add("## Where the bytes go")
    add("")
    if mdb:
        add(f"poolwatch `data.mdb`: {fmt(mdb['file_bytes'])} bytes ({mib(mdb['file_bytes'])} MiB), "
            f"{fmt(mdb['pages_used'])} pages of {mdb['page_size']} B in use by the last transaction, of which "
            f"{fmt(mdb['free_pages'])} free (LMDB's free list: pages of older copy-on-write versions, reused by later "
            f"writes but still part of the file). Maintenance (`poolwatch-collector --maintenance-interval 10ms`) ran "
            f"{fmt(maint.get('seconds'), 1)} s until no rollup work was left. From `mdb_stat -a` (pages) and `mdb_dump` (payload):")
        add("")
        add("| database | entries | pages (branch + leaf + overflow) | MiB in file | bytes per sample | payload MiB (keys + values) | page fill | what it holds |")
        add("|---|---:|---:|---:|---:|---:|---:|---|")
        what = {"series": "series index: canonical key -> id", "series_id": "id -> canonical key (formats 4, 5: 16 series a record, keys as symbol ids)",
                "series_hash": "series index: hash of the canonical key -> id (format 3); formats 4, 5: metric symbol -> (key hash, id) duplicates, sub-tree pages counted in its leaf pages",
                "symbols": "formats 4, 5: symbol id -> metric name or label pair", "symbol_hash": "formats 4, 5: hash of a symbol -> symbol id",
                "chunk_head": "open chunks (still being appended; format 5: the open chunks of 64 series a record, before: one record a series)",
                "chunks": "sealed chunks (720 points each, packed several to a record in format 3)", "rollups": "5m / 1h / 1d rollup blocks",
                "rollup_mark": "rollup progress", "rollup_todo": "rollup work", "rollup_wait": "buckets waiting for newer data",
                "agents": "agent records", "dedupe": "dedupe rows", "meta": "format, next id"}
        rows = []
        for name, d in mdb["dbs"].items():
            if name == "Main DB":
                continue
            pages = d["branch_pages"] + d["leaf_pages"] + d["overflow_pages"]
            rows.append((pages, name, d))
        rows.sort(reverse=True)
        tot_pages = 0
        for pages, name, d in rows:
            tot_pages += pages
            payload = (d.get("key_bytes") or 0) + (d.get("value_bytes") or 0)
            extra = ""
            if d.get("points"):
                extra = f"; {fmt(d['points'])} points, {(d['value_bytes'] / d['points']):.3f} B/point encoded"
            add(f"| {name} | {fmt(d['entries'])} | {fmt(pages)} ({d['branch_pages']} + {d['leaf_pages']} + {d['overflow_pages']}) | "
                f"{mib(pages * PAGE)} | {fmt(pages * PAGE / N, 3)} | {mib(payload)} | "
                f"{fmt(100 * payload / (pages * PAGE), 0) + ' %' if pages else ''} | {what.get(name, '')}{extra} |")
        other = mdb["file_bytes"] // PAGE - tot_pages - mdb["free_pages"]
        add(f"| free pages | | {fmt(mdb['free_pages'])} | {mib(mdb['free_pages'] * PAGE)} | {fmt(mdb['free_pages'] * PAGE / N, 3)} | | | reusable, not returned to the file system |")
        add(f"| other (meta pages, free list, main DB) | | {fmt(other)} | {mib(other * PAGE)} | {fmt(other * PAGE / N, 3)} | | | |")
        add(f"| **data.mdb** | | {fmt(mdb['file_bytes'] // PAGE)} | {mib(mdb['file_bytes'])} | **{fmt(pw_bps, 3)}** | | | |")
        add("")
        marks = mdb.get("rollup_marks") or {}
        if marks:
            parts = []
            for res in ("5m", "1h", "1d"):
                ms = marks.get(res) or []
                desc = ", ".join(f"{hm(plan['end_ms'] - t)} before the end ({n} series)" for t, n in ms[:3])
                parts.append(f"{res} up to {desc}" + (" ..." if len(ms) > 3 else ""))
            add("Rollups stored (`rollup_mark`: buckets are complete below it; a query computes the buckets after it "
                "from raw points): " + "; ".join(parts) + ".")
            add("")
        if mdb_before:
            add(f"Right after the import, before maintenance: {mib(mdb_before['file_bytes'])} MiB "
                f"({fmt(mdb_before['file_bytes'] / N, 3)} B/sample), {fmt(mdb_before['free_pages'])} free pages.")
            if mdb.get("file_bytes") == mdb_before["file_bytes"] and mdb_before.get("free_pages"):
                add(f"So the file did not grow: maintenance wrote the rollups into pages the import had left free, "
                    f"and its size is the import's high-water mark. An LMDB write transaction cannot reuse the "
                    f"pages the previous one freed (they hold the last committed state), so the peak carries about "
                    f"two transactions' worth of rewritten pages: with `poolwatch import --batch 2000` instead of "
                    f"the default 10 000 samples a transaction the file ends smaller and the import slower. While "
                    f"that holds, a smaller rollup or index shows in the free pages, not in the file.")
            add("")
    vm_idx = vmm.get('vm_data_size_bytes{type="indexdb"}')
    vm_small = int(vmm.get('vm_parts{type="storage/small"}', 0))
    vm_big = int(vmm.get('vm_parts{type="storage/big"}', 0))
    if vm_bytes:
        add(f"VictoriaMetrics `{vmsize.get('path_note', '-storageDataPath')}` after force_flush and force_merge: "
            f"{fmt(vm_bytes)} bytes ({mib(vm_bytes)} MiB): " +
            ", ".join(f"`{k}` {mib(v)} MiB ({fmt(v / N, 3)} B/sample)" for k, v in sorted(vmsize.get("dirs", {}).items(), key=lambda kv: -kv[1]) if v) +
            f". Its own accounting: data parts {mib(sum(v for k, v in vmm.items() if k.startswith('vm_data_size_bytes') and 'indexdb' not in k))} MiB, "
            f"indexdb {mib(vm_idx)} MiB; {vm_small} small and "
            f"{vm_big} big parts after the merge" +
            (f" ({len(vmimp['merge']['rounds'])} force_merge round(s), storage parts "
             + " -> ".join([str(vmimp['merge']['rounds'][0]['parts_before'])] + [str(r['parts_after']) for r in vmimp['merge']['rounds']])
             + f", {vmimp['merge']['merge_s']:.1f} s)" if vmimp.get("merge") and vmimp["merge"].get("rounds") else "") + ".")
        add("")

    # ---- targets
    add("## Targets")
    add("")
    for line in targets(R, pw_imp_rate, vm_rate, nng_rate, nngt_rate, pw_bps, vm_bps, mdb, N, plan, imp, vmimp, nng):
        add(line)
    add("")
    notes = list(meta.get("notes", []))
    if meta.get("loadavg"):
        notes.append("load average (1, 5, 15 min) when each phase started (it includes the benchmark's own earlier "
                     "phases: the 1-minute figure decays over about a minute): " +
                     "; ".join(f"{k} {v}" for k, v in meta["loadavg"]))
    if notes:
        add("## Notes")
        add("")
        for n in notes:
            add(f"- {n}")
        add("")
    with open(md_out, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")
    jdump(R, json_out)


def targets(R, pw_imp_rate, vm_rate, nng_rate, nngt_rate, pw_bps, vm_bps, mdb, N, plan, imp, vmimp, nng):  # noqa: C901
    out = []
    if pw_imp_rate and vm_rate:
        r = pw_imp_rate / vm_rate
        cpu_pw = (imp["user_s"] + imp["sys_s"]) / N * 1e6
        cpu_vm = vmimp["cpu_s"] / N * 1e6 if vmimp.get("cpu_s") else None
        how = (f"poolwatch spends {cpu_pw:.2f} CPU s per million samples on two threads (one parses, one stores "
               f"the previous window of 524,288 samples, sorted by series, in write transactions of "
               f"{R['ingest']['poolwatch_import'].get('summary', {}).get('batch', 10000):,} samples with an fsync "
               f"each); VictoriaMetrics {'%.2f' % cpu_vm if cpu_vm else 'n/a'} CPU s per million spread over "
               f"{R['meta']['machine']['nproc']} cores.")
        if r >= 1:
            out.append(f"- **Ingest >= VictoriaMetrics: met** for `poolwatch import` ({pw_imp_rate:,.0f} against "
                       f"{vm_rate:,.0f} samples/s, {r:.2f}x). " + how)
        else:
            out.append(f"- **Ingest >= VictoriaMetrics: missed** for `poolwatch import`: {pw_imp_rate:,.0f} against "
                       f"{vm_rate:,.0f} samples/s, {r:.2f}x, {(1 - r) * 100:.0f} % short. " + how)
    if nng_rate and vm_rate:
        r = nng_rate / vm_rate
        line = (f"- **Ingest over NNG >= VictoriaMetrics import: {'met' if r >= 1 else 'missed'}** "
                f"({nng_rate:,.0f} samples/s with the collector's defaults, {r:.2f}x VM's import")
        if nngt_rate:
            line += f"; {nngt_rate:,.0f} with more contexts and a larger batch, {nngt_rate / vm_rate:.2f}x"
        line += ")."
        ncores = R["meta"]["machine"]["nproc"] or 1
        if r < 1 and nng and nng.get("samples_acked") and nng.get("generator_cpu_s") is not None \
                and (nng["collector_cpu_s"] + nng["generator_cpu_s"]) / nng["elapsed_s"] > 0.8 * ncores:
            # The load generator shares the machine: say what it leaves for the collector.
            acked = nng["samples_acked"]
            cpm = nng["collector_cpu_s"] / acked * 1e6
            gpm = nng["generator_cpu_s"] / acked * 1e6
            busy = (nng["collector_cpu_s"] + nng["generator_cpu_s"]) / nng["elapsed_s"]
            line += (f" The machine was saturated: collector {nng['collector_cpu_s']:.2f} CPU s and load generator "
                     f"{nng['generator_cpu_s']:.2f} CPU s in {nng['elapsed_s']:.2f} s, {busy:.2f} of its {ncores} cores. "
                     f"The generator (1000 agents' sockets and acks) takes {gpm:.2f} CPU s per million samples: "
                     f"at VictoriaMetrics' import rate it alone would need {gpm * vm_rate / 1e6:.2f} cores, so on this "
                     f"machine the live path cannot reach that rate while its agents run beside it, whatever the "
                     f"collector does. The collector spends {cpm:.2f} CPU s per million samples (poolwatch import "
                     f"{(imp['user_s'] + imp['sys_s']) / N * 1e6:.2f}, VictoriaMetrics' import "
                     f"{(vmimp['cpu_s'] / N * 1e6) if vmimp.get('cpu_s') else float('nan'):.2f}); a fair test of the "
                     "target needs the agents on other machines.")
        elif r < 1 and nng and (nng.get("threads_cpu_s") or {}).get("pw:writer", 0) > 0.6 * nng["elapsed_s"]:
            # The collector's writer thread computed most of the time, and waited for fsync the rest: it is the bound.
            acked = nng["samples_acked"]
            wcpu = nng["threads_cpu_s"]["pw:writer"]
            line += (f" The bound is the collector's writer thread: it was busy {wcpu:.2f} CPU s of the "
                     f"{nng['elapsed_s']:.2f} s run ({wcpu / nng['elapsed_s'] * 100:.0f} %; the rest of the time it mostly waits for its commits' fsync), "
                     f"{wcpu / acked * 1e6:.2f} CPU s per million samples, while the machine had "
                     f"{ncores - (nng['collector_cpu_s'] + nng['generator_cpu_s']) / nng['elapsed_s']:.2f} of its "
                     f"{ncores} cores to spare (collector in all {nng['collector_cpu_s'] / acked * 1e6:.2f} CPU s per "
                     f"million, load generator {nng['generator_cpu_s'] / acked * 1e6:.2f}). One thread appends every "
                     "point and commits every transaction; each frame brings one point per series, so every point "
                     "pays for loading its series' open chunk and writing it back, where the import appends a "
                     "window's several points per series at once. Closing the gap needs a second writer (series "
                     "split between two stores) or open chunks kept decoded in memory between transactions.")
        elif r < 1 and nng:
            cpm = nng["collector_cpu_s"] / nng["samples_acked"] * 1e6 if nng.get("samples_acked") else None
            line += (f" With {nng['agents']} agents and one frame in flight each, at most `--contexts` frames wait "
                     "at the collector, and a write transaction takes what is queued: the batch, and the fsync it "
                     "shares, is bounded by the contexts, not by the load (the ack round trip is "
                     f"{nng['ack_ms_p50']:.0f} ms at p50).")
            if nngt_rate:
                line += (f" Lifting that bound gains {(nngt_rate / nng_rate - 1) * 100:.0f} %; the rest is CPU: the "
                         f"collector spends {cpm:.2f} CPU s per million samples (the import path "
                         f"{(imp['user_s'] + imp['sys_s']) / N * 1e6:.2f}), its writer on one thread.")
        out.append(line)
    if pw_bps and vm_bps:
        r = pw_bps / vm_bps
        out.append(f"- **Bytes/sample <= VictoriaMetrics: {'met' if r <= 1 else 'missed'}** ({pw_bps:.3f} against "
                   f"{vm_bps:.3f}, poolwatch {r:.2f}x{'' if r <= 1 else f', {(r - 1) * 100:.0f} % over'}).")
    if pw_bps:
        out.append(f"- **Bytes/sample <= 1.0: {'met' if pw_bps <= 1 else 'missed'}** ({pw_bps:.3f}"
                   f"{'' if pw_bps <= 1 else f', {(pw_bps - 1) * 100:.0f} % over'}).")
    if mdb and pw_bps and pw_bps > 1:
        d = mdb["dbs"]

        def pages(n):
            x = d.get(n, {})
            return (x.get("branch_pages", 0) + x.get("leaf_pages", 0) + x.get("overflow_pages", 0)) * PAGE

        def payload(n):
            x = d.get(n, {})
            return (x.get("key_bytes") or 0) + (x.get("value_bytes") or 0)

        enc = sum((d.get(n, {}).get("value_bytes") or 0) for n in ("chunks", "chunk_head"))
        hashed = "series_hash" in d
        symbolic = "symbols" in d
        idx_dbs = ("series", "series_hash", "series_id", "symbols", "symbol_hash")
        idx = sum(pages(n) for n in idx_dbs)
        free = mdb["free_pages"] * PAGE
        chunk_pages = pages("chunks") + pages("chunk_head")
        roll = pages("rollups")
        out.append("")
        vmd = R["size"]["victoriametrics"].get("dirs", {})
        vm_data, vm_index = vmd.get("data"), vmd.get("indexdb")
        idx_payload = sum(payload(n) for n in idx_dbs)
        roll_payload = payload("rollups")
        enc_keys = payload("chunks") + payload("chunk_head")
        other = mdb["file_bytes"] - free - chunk_pages - idx - roll
        out.append("Why, from the breakdown above (each part of `data.mdb` divided by all samples):")
        out.append("")
        out.append("| part | B/sample | of which payload | VictoriaMetrics counterpart |")
        out.append("|---|---:|---:|---|")
        out.append(f"| chunks (open + sealed): the encoded points | {chunk_pages / N:.3f} | {enc_keys / N:.3f} "
                   f"(values {enc / N:.3f}, keys {(enc_keys - enc) / N:.3f}) | data parts "
                   f"{'%.3f' % (vm_data / N) if vm_data else 'n/a'} (values, timestamps and per-block headers, zstd) |")
        idx_names = "`series_hash` + `series_id` + `symbols` + `symbol_hash`" if symbolic else \
            f"`{'series_hash' if hashed else 'series'}` + `series_id`"
        idx_how = ("keys as symbol ids, 16 series a record, plus a 12-byte hash entry" if symbolic else
                   "the canonical key once, plus a 12-byte hash" if hashed else "the canonical key is stored twice")
        out.append(f"| series index ({idx_names}) | {idx / N:.3f} | {idx_payload / N:.3f} "
                   f"({idx / plan['series']:.0f} B per series in pages, {idx_payload / plan['series']:.0f} payload: "
                   f"{idx_how}) | indexdb {'%.3f' % (vm_index / N) if vm_index else 'n/a'} "
                   f"({vm_index / plan['series']:.0f} B per series) |" if vm_index else
                   f"| series index | {idx / N:.3f} | {idx_payload / N:.3f} | n/a |")
        out.append(f"| rollups (5m, 1h, 1d) | {roll / N:.3f} | {roll_payload / N:.3f} | none: VM keeps raw samples only |")
        out.append(f"| free pages | {free / N:.3f} | 0 | none: merges write new files and delete the old ones |")
        out.append(f"| other | {other / N:.3f} | | |")
        out.append("")
        out.append(f"At {N / plan['series']:.0f} samples per series, the per-series costs (index, open chunk headers "
                   "and trailers) weigh much more than they would after days of data at the same number of series.")
        out.append("")
        steps = [("as measured", pw_bps)]
        b = pw_bps - free / N
        steps.append(("without the free pages (`mdb_copy -c`, or a store that reuses them before growing)", b))
        b -= (chunk_pages - enc_keys) / N + (roll - roll_payload) / N
        steps.append(("and with chunk and rollup pages 100 % full (payload only; a B-tree split leaves a page "
                      "half full, and values over ~2 KB take whole overflow pages)", b))
        b -= (idx - idx_payload) / N
        steps.append(("and with the series index pages 100 % full", b))
        if not hashed:
            b -= min(payload("series"), payload("series_id")) / N
            steps.append(("and with the canonical key stored once, not twice", b))
        if roll_payload:
            steps.append(("and without rollups (VM has none; poolwatch needs them for long ranges)", b - roll_payload / N))
        out.append("What would close it, as upper bounds of what each change could save (cumulative):")
        out.append("")
        out.append("| change | B/sample |")
        out.append("|---|---:|")
        for label, v in steps:
            out.append(f"| {label} | {v:.3f} |")
        out.append("")
        if vm_data and enc > vm_data:
            out.append(f"The last line is about what the encoded data itself costs. What remains against VictoriaMetrics "
                       f"({vm_bps:.3f} B/sample in all) is the codec: poolwatch's chunk values take {enc / N:.3f} B/sample "
                       f"where VM's data parts take {vm_data / N:.3f} for the same samples.")
        elif vm_data:
            out.append(f"The last line is about what the encoded data itself costs: poolwatch's chunk values take "
                       f"{enc / N:.3f} B/sample where VM's data parts take {vm_data / N:.3f} for the same samples, so "
                       f"what separates the two stores ({fmt(pw_bps, 3)} against {vm_bps:.3f} B/sample) is layout: "
                       "page fill, per-series records and rollups, not the codec.")
        head = d.get("chunk_head", {})
        if head.get("entries"):
            hp, hpay = pages("chunk_head"), payload("chunk_head")
            nopen = head.get("open_chunks") or head["entries"]
            out.append("")
            if (mdb.get("format") or 0) >= 5:
                out.append(f"Open chunks (`chunk_head`, {hp / N:.3f} B/sample, {100 * hpay / hp:.0f} % page fill): "
                           f"{nopen:,} of {plan['series']:,} series hold points in an open chunk, kept 64 series a "
                           f"record ({head['entries']:,} records of {hpay / head['entries'] / 1024:.1f} KiB on "
                           "average, in overflow pages: what a record leaves unused is the rest of its last page, "
                           f"{(hp - hpay) / N:.3f} B/sample here). "
                           "Over days of data they are a small share (one open chunk per series against a month of "
                           "sealed packs); on a data set of minutes per series they are the largest part. What "
                           "would close the rest, roughly in order of size: (1) groups of 128 or 256 series (a new "
                           "storage format): the unused rest of a last page is then shared by two or four times as "
                           "many series, at the price of a larger record rewritten for each frame; (2) the open "
                           "chunk's header and appender trailer (12 + 11-20 bytes a series, about 0.3 B/sample of a "
                           "90-point chunk); (3) 5-minute rollup blocks packed like sealed chunks (one block of a "
                           "day is about 2-3 KB, alone in an overflow page or two to a leaf); (4) the series index's "
                           "hash entries, which arrive in random order (about 60-80 % page fill).")
            else:
                out.append(f"Open chunks (`chunk_head`, {hp / N:.3f} B/sample, {100 * hpay / hp:.0f} % page fill): "
                           f"{nopen:,} of {plan['series']:,} series hold points in an open chunk, a record "
                           "that grows with every append and splits its page when it is full; records that all grow "
                           "at the same pace split together, so their pages cycle between half and full (storage "
                           "format 5 keeps 64 series' open chunks in one record instead).")
    return out


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "port":
        cmd_port()
    elif cmd == "timed":
        cmd_timed(a[0], a[1], a[2], a[3], a[4:])
    elif cmd == "diskw":
        cmd_diskw(a[0])
    elif cmd == "proc":
        print(json.dumps(proc(a[0])))
    elif cmd == "wait-maint":
        cmd_wait_maint(a[0], a[1], a[2])
    elif cmd == "vm-settle":
        cmd_vm_settle(a[0], a[1], a[2], a[3], a[4])
    elif cmd == "mdb":
        cmd_mdb(a[0], a[1])
    elif cmd == "queries":
        cmd_queries(a[0], a[1])
    elif cmd == "pwlat":
        cmd_pwlat(a[0], a[1], a[2], a[3], a[4], a[5])
    elif cmd == "vmlat":
        cmd_vmlat(a[0], a[1], a[2], a[3], a[4])
    elif cmd == "vm-metrics":
        cmd_vm_metrics(a[0], a[1])
    elif cmd == "report":
        cmd_report(a[0], a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
