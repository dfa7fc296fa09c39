#!/usr/bin/env python3
"""bench.py - helpers for tests/bench/agent/run.sh (not run on its own).

  bench.py port tcp|udp              print a free loopback port
  bench.py monitor OUT DUR EVERY NAME=PID...
                                     sample /proc/PID/{status,stat,task/*/schedstat}
                                     now, every EVERY s and after DUR s (JSON lines)
  bench.py scrape OUT EVERY UDPPORT URL...
                                     GET every URL every EVERY s and count the values
                                     collectd sends to UDPPORT, until SIGTERM
  bench.py smaps PID OUT             break a process's RSS down from /proc/PID/smaps
  bench.py report DIR MD JSON        turn DIR/{meta,samples,scrape,smaps}.json* into
                                     the markdown and JSON results
Only the standard library: it runs on a bare Debian python3.
"""
import json
import os
import signal
import socket
import struct
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- port
def cmd_port(kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


# ---------------------------------------------------------------- monitor
def snap(pid):
    """One reading of a process, or None if it is gone."""
    try:
        status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                status[k] = v.split()
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        # comm may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])
        pss = None
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except OSError:
            pass
        sched_ns = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    sched_ns += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except (OSError, ValueError):
        return None

    def kib(k):
        return int(status[k][0]) if k in status else None

    return {
        "rss_kib": kib("VmRSS"), "hwm_kib": kib("VmHWM"), "rss_anon_kib": kib("RssAnon"),
        "rss_file_kib": kib("RssFile"), "rss_shmem_kib": kib("RssShmem"), "vsz_kib": kib("VmSize"),
        "pss_kib": pss, "threads": kib("Threads"), "utime_ticks": utime, "stime_ticks": stime,
        "cpu_s": (utime + stime) / CLK_TCK, "sched_cpu_s": sched_ns / 1e9,
    }


def cmd_monitor(out, duration, every, procs):
    procs = dict(p.split("=", 1) for p in procs)
    t0 = time.monotonic()
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(out, "w") as f:
        t = 0.0
        while True:
            rec = {"t": round(time.monotonic() - t0, 3), "wall": time.time(),
                   "procs": {n: snap(p) for n, p in procs.items()}}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            if t >= duration or stop:
                break
            t = min(t + every, duration)
            while not stop and time.monotonic() - t0 < t:
                time.sleep(min(0.2, max(0.0, t - (time.monotonic() - t0))))
            if stop:
                break
    if stop:
        sys.exit(1)
    dead = [n for n, p in procs.items() if snap(p) is None]
    if dead:
        print("bench: process(es) gone before the end: " + ", ".join(dead), file=sys.stderr)
        sys.exit(1)


# ---------------------------------------------------------------- scrape
def collectd_values(pkt):
    """[(time, values)] for each value list in one collectd binary-protocol packet."""
    out = []
    now = 0.0
    i = 0
    while i + 4 <= len(pkt):
        ptype, plen = struct.unpack_from(">HH", pkt, i)
        if plen < 4:
            break
        if ptype == 0x0001 and plen == 12:          # time, seconds
            now = float(struct.unpack_from(">Q", pkt, i + 4)[0])
        elif ptype == 0x0008 and plen == 12:        # time, 2^-30 seconds
            now = struct.unpack_from(">Q", pkt, i + 4)[0] / 2 ** 30
        elif ptype == 0x0006 and plen >= 6:
            out.append((now, struct.unpack_from(">H", pkt, i + 4)[0]))
        i += plen
    return out


def cmd_scrape(out, every, udp_port, urls):
    """The scraper stands in for Prometheus; its own cost is not measured."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", udp_port))
    udp.settimeout(0.2)
    stats = {u: {"scrapes": 0, "errors": 0, "bytes": 0, "samples_last": 0, "seconds": 0.0}
             for u in urls}
    cd = {"packets": 0, "bytes": 0, "value_lists": 0, "values": 0, "per_interval": {}}
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def dump():
        with open(out + ".tmp", "w") as f:
            json.dump({"every_s": every, "urls": stats, "collectd": cd}, f)
        os.replace(out + ".tmp", out)

    next_scrape = time.monotonic()
    while not stop:
        now = time.monotonic()
        if now >= next_scrape:
            next_scrape += every
            for u in urls:
                st = stats[u]
                t = time.monotonic()
                try:
                    with urllib.request.urlopen(u, timeout=every) as r:
                        body = r.read()
                    st["scrapes"] += 1
                    st["bytes"] += len(body)
                    st["samples_last"] = sum(1 for ln in body.splitlines()
                                             if ln and not ln.startswith(b"#"))
                except OSError:
                    st["errors"] += 1
                st["seconds"] += time.monotonic() - t
            dump()
        try:
            pkt = udp.recv(65535)
        except socket.timeout:
            continue
        except OSError:
            break
        cd["packets"] += 1
        cd["bytes"] += len(pkt)
        for t, n in collectd_values(pkt):
            cd["value_lists"] += 1
            cd["values"] += n
            slot = str(int(t // every))     # values collectd read in one interval
            cd["per_interval"][slot] = cd["per_interval"].get(slot, 0) + n
    dump()


# ---------------------------------------------------------------- smaps
def thread_stack_pointers(pid):
    """Stack pointer of each thread blocked in a syscall (from task/*/syscall)."""
    sps = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                parts = f.read().split()
        except OSError:
            continue
        if len(parts) >= 9:      # "nr a1..a6 sp pc"; "running" when not in a syscall
            sps[int(tid)] = int(parts[7], 16)
    return sps


def thread_names(pid):
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                n = f.read().strip()
        except OSError:
            continue
        names[n] = names.get(n, 0) + 1
    return dict(sorted(names.items()))


def cmd_smaps(pid, out):
    exe = os.path.realpath(f"/proc/{pid}/exe")
    sps = thread_stack_pointers(pid)
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perms": head[1],
                       "path": head[5].strip() if len(head) > 5 else "", "kib": {}}
                maps.append(cur)
            elif cur is not None and line.rstrip().endswith("kB"):
                k, v = line.split(":", 1)
                cur["kib"][k] = int(v.split()[0])
    rollup = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.rstrip().endswith("kB"):
                k, v = line.split(":", 1)
                rollup[k] = int(v.split()[0])

    main_tid = int(pid)

    def category(m):
        p = m["path"]
        if p == exe:
            kind = {"r-xp": "code", "r--p": "read-only data", "rw-p": "data"}.get(m["perms"], m["perms"])
            return f"executable file, {kind} ({os.path.basename(p)})"
        if p.endswith(".mdb"):
            return "LMDB spool map (" + os.path.basename(p) + ")"
        if ".so" in os.path.basename(p):
            return "shared libraries"
        if p == "[heap]":
            return "heap ([heap], main malloc arena)"
        if p == "[stack]":
            return "main thread stack ([stack])"
        if p in ("[vdso]", "[vvar]", "[vsyscall]", "[vvar_vclock]"):
            return "kernel ([vdso], [vvar])"
        if p and not p.startswith("["):
            return "other files (" + os.path.basename(p) + ")"
        if any(m["lo"] <= sp < m["hi"] for t, sp in sps.items() if t != main_tid):
            return "thread stacks (anonymous)"
        return "other anonymous (malloc arenas, mmap)"

    cats, libs = {}, {}
    for m in maps:
        c = category(m)
        k = m["kib"]
        e = cats.setdefault(c, {"mappings": 0, "size_kib": 0, "rss_kib": 0, "pss_kib": 0,
                                "private_kib": 0, "anon_kib": 0})
        e["mappings"] += 1
        e["size_kib"] += k.get("Size", 0)
        e["rss_kib"] += k.get("Rss", 0)
        e["pss_kib"] += k.get("Pss", 0)
        e["private_kib"] += k.get("Private_Clean", 0) + k.get("Private_Dirty", 0)
        e["anon_kib"] += k.get("Anonymous", 0)
        if c == "shared libraries":
            lib = libs.setdefault(os.path.basename(m["path"]), {"rss_kib": 0, "pss_kib": 0, "private_kib": 0})
            lib["rss_kib"] += k.get("Rss", 0)
            lib["pss_kib"] += k.get("Pss", 0)
            lib["private_kib"] += k.get("Private_Clean", 0) + k.get("Private_Dirty", 0)
    big = sorted(maps, key=lambda m: -m["kib"].get("Rss", 0))[:8]
    res = {
        "pid": int(pid), "rollup_kib": rollup, "threads": len(os.listdir(f"/proc/{pid}/task")),
        "stacks_found": len([1 for t in sps if t != main_tid]),
        "categories": dict(sorted(cats.items(), key=lambda kv: -kv[1]["rss_kib"])),
        "libs": dict(sorted(libs.items(), key=lambda kv: -kv[1]["rss_kib"])),
        "thread_names": thread_names(pid),
        "largest_mappings": [{"range": f"{m['lo']:x}-{m['hi']:x}", "perms": m["perms"],
                              "path": m["path"] or "(anon)", "size_kib": m["kib"].get("Size", 0),
                              "rss_kib": m["kib"].get("Rss", 0), "pss_kib": m["kib"].get("Pss", 0)}
                             for m in big],
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


# ---------------------------------------------------------------- report
def fmt(x, nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{nd}f}"


def cmd_report(d, md_out, json_out):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(d, "samples.jsonl")) as f:
        samples = [json.loads(line) for line in f if line.strip()]
    scrape = {}
    if os.path.exists(os.path.join(d, "scrape.json")):
        with open(os.path.join(d, "scrape.json")) as f:
            scrape = json.load(f)
    smaps = None
    if os.path.exists(os.path.join(d, "smaps.json")):
        with open(os.path.join(d, "smaps.json")) as f:
            smaps = json.load(f)

    first, last = samples[0], samples[-1]
    window = last["t"] - first["t"]
    names = meta["order"]
    rows = {}
    for n in names:
        a, b = first["procs"].get(n), last["procs"].get(n)
        if a is None or b is None:
            rows[n] = None
            continue
        seen = [s["procs"][n]["rss_kib"] for s in samples if s["procs"].get(n)]
        rows[n] = {
            "label": meta["labels"][n],
            "pid": meta["pids"][n],
            "rss_start_kib": a["rss_kib"], "rss_end_kib": b["rss_kib"],
            "rss_max_sampled_kib": max(seen), "peak_rss_kib": b["hwm_kib"],
            "rss_anon_end_kib": b["rss_anon_kib"], "rss_file_end_kib": b["rss_file_kib"],
            "rss_shmem_end_kib": b["rss_shmem_kib"], "vsz_end_kib": b["vsz_kib"],
            "pss_end_kib": b.get("pss_kib"),
            "threads_end": b["threads"],
            "cpu_s": round(b["cpu_s"] - a["cpu_s"], 3),
            "cpu_ticks": (b["utime_ticks"] + b["stime_ticks"]) - (a["utime_ticks"] + a["stime_ticks"]),
            "utime_s": round((b["utime_ticks"] - a["utime_ticks"]) / CLK_TCK, 3),
            "stime_s": round((b["stime_ticks"] - a["stime_ticks"]) / CLK_TCK, 3),
            "sched_cpu_s": round(b["sched_cpu_s"] - a["sched_cpu_s"], 4),
            "cpu_s_total_since_start": round(b["cpu_s"], 3),
        }
    base = rows.get("poolwatch-agent")

    def ratio(x, y):
        return round(x / y, 2) if (x is not None and y) else None
    for n, r in rows.items():
        if r is None or base is None:
            continue
        r["cpu_ratio"] = ratio(r["cpu_s"], base["cpu_s"])
        r["sched_cpu_ratio"] = ratio(r["sched_cpu_s"], base["sched_cpu_s"])
        r["rss_ratio"] = ratio(r["rss_end_kib"], base["rss_end_kib"])
        r["peak_rss_ratio"] = ratio(r["peak_rss_kib"], base["peak_rss_kib"])
        r["cpu_ms_per_interval"] = round(1000 * r["sched_cpu_s"] / (window / meta["interval_s"]), 2) \
            if window > 0 else None

    # Values each tool produced per interval, to judge how comparable the work is.
    per_round = {"poolwatch-agent": meta.get("agent_values_per_round")}
    # collectd: the median over its reads, by the timestamps in the packets.
    slots = sorted(scrape.get("collectd", {}).get("per_interval", {}).values())
    if slots:
        per_round["collectd"] = slots[len(slots) // 2]
    for n, url in meta.get("scrape_urls", {}).items():
        st = scrape.get("urls", {}).get(url)
        if st:
            per_round[n] = st["samples_last"]
    for n, r in rows.items():
        if r is not None:
            r["values_per_interval"] = per_round.get(n)

    result = {"date": meta["date"], "machine": meta["machine"], "versions": meta["versions"],
              "duration_s": meta["duration_s"], "interval_s": meta["interval_s"],
              "measured_window_s": round(window, 1), "samples": len(samples),
              "command": meta["command"], "collectd_sink": meta["collectd_sink"],
              "clk_tck": CLK_TCK, "processes": rows, "scraper": scrape, "agent_smaps": smaps,
              "notes": meta.get("notes", [])}
    with open(json_out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    L = []
    m = meta["machine"]
    L.append("# poolwatch-agent resource benchmark\n")
    L.append("Generated by `tests/bench/agent/run.sh`; overwritten on every run. "
             "See `tests/bench/README.md` for how to read it.\n")
    L.append(f"- date: {meta['date']}")
    L.append(f"- machine: {m['nproc']} CPU(s), {m['model']}, {m['mem_total_kib'] // 1024} MiB RAM, "
             f"kernel {m['kernel']}, {m['os']}")
    v = meta["versions"]
    L.append(f"- versions: poolwatch-agent {v['poolwatch']}, collectd {v['collectd']}, "
             f"prometheus-node-exporter {v['node_exporter']}")
    L.append(f"- duration: {meta['duration_s']} s (measured window {window:.1f} s, "
             f"{len(samples)} samples of /proc), interval: {meta['interval_s']} s")
    L.append(f"- command: `{meta['command']}`")
    L.append(f"- collectd sink: {meta['collectd_sink']}")
    L.append("")
    L.append("| process | RSS at end (KiB) | peak RSS, VmHWM (KiB) | CPU s over run (utime+stime) "
             "| CPU ratio vs poolwatch | RSS ratio vs poolwatch | CPU s (schedstat) "
             "| CPU ratio (schedstat) | values / interval |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        r = rows[n]
        if r is None:
            L.append(f"| {meta['labels'][n]} | died | | | | | | | |")
            continue
        L.append(f"| {r['label']} | {r['rss_end_kib']} | {r['peak_rss_kib']} | {fmt(r['cpu_s'])} "
                 f"| {fmt(r.get('cpu_ratio'))} | {fmt(r.get('rss_ratio'))} "
                 f"| {fmt(r['sched_cpu_s'], 3)} | {fmt(r.get('sched_cpu_ratio'))} "
                 f"| {fmt(r.get('values_per_interval'))} |")
    L.append("")
    L.append("Ratios are peer / poolwatch-agent in this same run (above 1: the peer uses more). "
             f"CPU from /proc/PID/stat (utime+stime) counts in 1/{CLK_TCK} s ticks charged to "
             "whoever runs when the tick lands; the schedstat columns sum the exact run time of "
             "/proc/PID/task/*/schedstat (ns; threads alive at both ends).")
    if base is not None and base["cpu_ticks"] < 20:
        L.append(f"\n**poolwatch-agent used only {base['cpu_ticks']} tick(s) of CPU in the window: "
                 "the utime+stime ratios are too coarse to mean much; read the schedstat ones "
                 "(or run with a longer --duration).**")
    L.append("")
    L.append("Memory at the end in more detail: PSS divides each shared page among the processes "
             "mapping it (shared libraries such as libc count in full in RSS, partly in PSS).\n")
    L.append("| process | PSS (KiB) | RssAnon (KiB) | RssFile (KiB) | RssShmem (KiB) | VmSize (KiB) "
             "| threads | RSS at start (KiB) | CPU ms / interval (schedstat) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        r = rows[n]
        if r is None:
            continue
        L.append(f"| {r['label']} | {fmt(r['pss_end_kib'])} | {r['rss_anon_end_kib']} | {r['rss_file_end_kib']} "
                 f"| {r['rss_shmem_end_kib']} | {r['vsz_end_kib']} | {r['threads_end']} "
                 f"| {r['rss_start_kib']} | {fmt(r.get('cpu_ms_per_interval'))} |")
    L.append("")
    if base is not None:
        flags = []
        if base["rss_end_kib"] > 2048 or base["peak_rss_kib"] > 2048:
            flags.append(f"poolwatch-agent RSS is above 2 MiB (end {base['rss_end_kib']} KiB, "
                         f"peak {base['peak_rss_kib']} KiB)")
        cdr = rows.get("collectd")
        if cdr is not None and base["cpu_s"] > cdr["cpu_s"]:
            flags.append(f"poolwatch-agent used more CPU than collectd "
                         f"({base['cpu_s']} s vs {cdr['cpu_s']} s)")
        if cdr is not None and base["sched_cpu_s"] > cdr["sched_cpu_s"]:
            flags.append(f"by schedstat too, poolwatch-agent used more CPU than collectd "
                         f"({base['sched_cpu_s']} s vs {cdr['sched_cpu_s']} s)")
        if flags:
            L.append("**Over target:** " + "; ".join(flags) + ".")
            L.append("")
    if smaps:
        roll = smaps["rollup_kib"]
        L.append("## Where poolwatch-agent's RSS goes\n")
        uss = sum(roll.get(k, 0) for k in ("Private_Clean", "Private_Dirty"))
        threads = ", ".join(f"{n} x{c}" for n, c in smaps["thread_names"].items())
        L.append(f"From /proc/PID/smaps at the end of the run: Rss {roll.get('Rss')} KiB, "
                 f"Pss {roll.get('Pss')} KiB, private (USS) {uss} KiB, "
                 f"Anonymous {roll.get('Anonymous')} KiB. {smaps['threads']} threads ({threads}); "
                 f"{smaps['stacks_found']} thread stacks located from task/*/syscall.\n")
        L.append("| part | mappings | virtual (KiB) | Rss (KiB) | Pss (KiB) | private (KiB) | anon (KiB) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for c, e in smaps["categories"].items():
            L.append(f"| {c} | {e['mappings']} | {e['size_kib']} | {e['rss_kib']} | {e['pss_kib']} "
                     f"| {e['private_kib']} | {e['anon_kib']} |")
        L.append("")
        if smaps["libs"]:
            L.append("| shared library | Rss (KiB) | Pss (KiB) | private (KiB) |")
            L.append("|---|---:|---:|---:|")
            for k, v in smaps["libs"].items():
                L.append(f"| {k} | {v['rss_kib']} | {v['pss_kib']} | {v['private_kib']} |")
        else:
            L.append("No shared libraries: the agent is statically linked, so the library code "
                     "is in the executable file's rows.")
        L.append("")
    L.append("## Notes\n")
    for note in meta.get("notes", []):
        L.append(f"- {note}")
    hosts = os.path.join(d, "hosts.txt")
    if os.path.exists(hosts):
        with open(hosts) as f:
            text = f.read().rstrip()
        result["collector_hosts"] = text
        with open(json_out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        L.append("\nWhat the poolwatch-collector stored (`poolwatch hosts` on its data directory; "
                 "the collector reports itself too):\n")
        L.append("```\n" + text + "\n```")
    with open(md_out, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "port":
        cmd_port(args[0])
    elif cmd == "monitor":
        cmd_monitor(args[0], float(args[1]), float(args[2]), args[3:])
    elif cmd == "scrape":
        cmd_scrape(args[0], float(args[1]), int(args[2]), args[3:])
    elif cmd == "smaps":
        cmd_smaps(args[0], args[1])
    elif cmd == "report":
        cmd_report(args[0], args[1], args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
