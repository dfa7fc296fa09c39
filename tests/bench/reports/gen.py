#!/usr/bin/env python3
"""tests/bench/reports/gen.py - the reports benchmark's data set.

  gen.py inventory VMS TENANTS SYSTEMS YEAR MONTH OUT.csv
      VMS VMs across TENANTS using units and SYSTEMS systems (Chinese names,
      as the request tables have them); most in service all month, 3 % each
      delivered or terminated in the month.
  gen.py series VMS YEAR MONTH STEP_S [FIRST]
      Prometheus text on stdout: for VMs FIRST..VMS-1 (default 0) the
      hypervisor series the report reads (usage.h), one point per STEP_S
      seconds over the month in Asia/Shanghai and an hour either side:
      cpu seconds, balloon available/unused, network rx/tx, state (5
      series at STEP_S) plus disk capacity/allocation once a day. One point
      per 5-minute bucket gives the same 5-minute rollups as a point every
      10 s would. run.sh uses gen_series.c instead, the same series ~4x
      faster (10 000 VMs at full density are 520 million samples); this one
      stays as the readable reference.
Only the standard library."""
import datetime
import random
import sys
import zoneinfo

GIB = 1073741824
HEAD = "使用单位,系统名称,子系统名称,虚拟机名称,网络区域,服务器类型,vCPU(核),内存(GB),系统盘(GB),数据盘(GB),UUID,确认开通日期,终止日期\n"
FLAVOURS = [(2, 4), (4, 8), (8, 16), (16, 32), (4, 16), (8, 32)]


def uuid(i):
    return "%08x-0000-4000-8000-%012x" % (0x5eed0000 + i // 1000000, i)


def month_bounds(y, m):
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    a = datetime.datetime(y, m, 1, tzinfo=tz)
    b = datetime.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=tz)
    return int(a.timestamp()), int(b.timestamp())


def inventory(n, tenants, systems, y, m, out):
    rnd = random.Random(1)
    first = datetime.date(y, m, 1)
    with open(out, "w", encoding="utf-8") as f:
        f.write(HEAD)
        for i in range(n):
            s = i % systems
            t = s % tenants
            c, mem = FLAVOURS[rnd.randrange(len(FLAVOURS))]
            dl, te = "2025-01-01", ""
            r = rnd.random()
            if r < 0.03:
                dl = (first + datetime.timedelta(days=rnd.randrange(1, 27))).isoformat()
            elif r < 0.06:
                te = (first + datetime.timedelta(days=rnd.randrange(1, 27))).isoformat()
            f.write("单位%02d,系统%03d,子系统%d,vm-%05d,政务外网区,APP,%d,%d,40,100,%s,%s,%s\n"
                    % (t, s, i % 3, i, c, mem, uuid(i), dl, te))


def series(n, y, m, step, first=0):
    a, b = month_bounds(y, m)
    a -= 3600
    b += 3600
    w = sys.stdout.write
    rnd = random.Random(2)
    for i in range(first, n):
        lab = 'host="hv%03d",vm="%s",vm_name="vm-%05d"' % (i % 300, uuid(i), i)
        cpu = rnd.uniform(0.05, 3.0)          # CPUs busy on average
        mem = rnd.uniform(0.5, 6.0)           # GiB used
        net = rnd.uniform(0, 200000.0)        # bytes/s
        m_cpu = "poolwatch_vm_cpu_seconds_total{%s} " % lab
        m_av = "poolwatch_vm_balloon_available_bytes{%s} %d " % (lab, 16 * GIB)
        m_un = "poolwatch_vm_balloon_unused_bytes{%s} " % lab
        m_rx = 'poolwatch_vm_network_receive_bytes_total{%s,device="vnet0"} ' % lab
        m_tx = 'poolwatch_vm_network_transmit_bytes_total{%s,device="vnet0"} ' % lab
        m_st = "poolwatch_vm_state{%s} 1 " % lab
        buf = []
        for k, ts in enumerate(range(a, b, step)):
            sec = k * step
            wig = 1.0 + 0.5 * ((k * 7919 + i) % 13 - 6) / 6.0   # busy and quiet buckets
            ms = "%d000\n" % ts
            buf.append("%s%.1f %s%s%s%s%d %s%s%.0f %s%s%.0f %s%s%s" % (
                m_cpu, cpu * sec, ms, m_av, ms, m_un, int((16 - mem * wig) * GIB), ms,
                m_rx, net * sec, ms, m_tx, net * sec / 4, ms, m_st, ms))
            if len(buf) >= 2000:
                w("".join(buf))
                buf = []
        for ts in range(a, b, 86400):
            buf.append('poolwatch_vm_disk_capacity_bytes{%s,device="vda"} %d %d000\n' % (lab, 140 * GIB, ts))
            buf.append('poolwatch_vm_disk_allocation_bytes{%s,device="vda"} %d %d000\n' % (lab, 60 * GIB, ts))
        w("".join(buf))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "inventory" and len(a) == 7:
        inventory(int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), a[6])
    elif a and a[0] == "series" and len(a) in (5, 6):
        series(int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]) if len(a) == 6 else 0)
    else:
        sys.exit(__doc__)
