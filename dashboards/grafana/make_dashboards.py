#!/usr/bin/env python3
"""Writes the Grafana dashboards in this folder (*.json) from the tables below.

The JSON files are what users import (Grafana 10+: Dashboards > New > Import);
this script keeps their common parts (data source input, variables, panel
layout) in one place. Run it after changing a query and commit both:

    python3 dashboards/grafana/make_dashboards.py

Every panel's query is checked against a seeded collector by
tests/integration/test_grafana.py.
"""
import json
import os

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
INPUTS = [{"name": "DS_PROMETHEUS", "label": "poolwatch", "description": "the poolwatch collector (Prometheus data source)",
           "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]
R = "$__rate_interval"

UNITS = {"ratio": "percentunit", "bytes": "bytes", "Bps": "Bps", "cpus": "short", "days": "d", "short": "short"}


def var(name, label, query):
    """A query variable filled by label_values (Grafana asks /api/v1/label/<l>/values or /series)."""
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "refresh": 2, "sort": 1, "includeAll": False, "multi": False,
            "current": {}, "options": [], "hide": 0}


def panel(title, kind, targets, unit="short", w=12, h=8, max1=False, thresholds70=False):
    p = {"title": title, "type": kind, "datasource": DS,
         "fieldConfig": {"defaults": {"unit": UNITS[unit]}, "overrides": []},
         "options": {}, "targets": []}
    if max1:
        p["fieldConfig"]["defaults"].update({"min": 0, "max": 1})
    if thresholds70:
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "orange", "value": 0.7}, {"color": "red", "value": 1}]}
        if kind == "timeseries":
            p["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "dashed"}}
    for i, (expr, legend) in enumerate(targets):
        p["targets"].append({"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend,
                             "range": kind == "timeseries", "instant": kind != "timeseries"})
    p["_w"], p["_h"] = w, h
    return p


def dashboard(uid, title, panels, variables=(), tags=("poolwatch",), time_from="now-24h"):
    x = y = 0
    row_h = 0
    out = []
    for i, p in enumerate(panels):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i + 1
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)
        out.append(p)
    return {
        "__inputs": INPUTS,
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "uid": uid, "title": title, "tags": list(tags), "timezone": "browser",
        "schemaVersion": 38, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"}, "refresh": "1m",
        "templating": {"list": list(variables)}, "annotations": {"list": []},
        "links": [{"title": "poolwatch", "type": "dashboards", "tags": ["poolwatch"], "asDropdown": True}],
        "panels": out,
    }


HOST_CPU = ('sum by (host) (rate(poolwatch_node_cpu_seconds_total{mode!~"idle|iowait"%s}[' + R + ']))'
            ' / sum by (host) (poolwatch_node_cpus%s)')

DASHBOARDS = {
    "fleet-overview": dashboard("poolwatch-fleet", "poolwatch / Fleet overview", [
        panel("Hosts reporting", "stat", [("count(poolwatch_node_cpus)", "hosts")], w=6, h=4),
        panel("VMs", "stat", [("count(poolwatch_vm_info)", "VMs")], w=6, h=4),
        panel("vCPUs allocated", "stat", [("sum(poolwatch_vm_vcpus)", "vCPUs")], w=6, h=4),
        panel("VM memory allocated", "stat", [("sum(poolwatch_vm_memory_max_bytes)", "memory")], "bytes", w=6, h=4),
        panel("Allocated % by pool and resource", "bargauge",
              [("poolwatch_pool_allocated_ratio", "{{pool}} {{resource}}")], "ratio", max1=True, thresholds70=True),
        panel("Used % by pool and resource", "bargauge",
              [("poolwatch_pool_used_ratio", "{{pool}} {{resource}}")], "ratio", max1=True, thresholds70=True),
        panel("CPU busy by host", "timeseries", [(HOST_CPU % ("", ""), "{{host}}")], "ratio", max1=True),
        panel("Memory used by host", "timeseries",
              [("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{host}}")], "ratio", max1=True),
    ]),
    "pool-capacity": dashboard("poolwatch-pool", "poolwatch / Pool capacity", [
        panel("Allocated %", "bargauge", [('poolwatch_pool_allocated_ratio{pool="$pool"}', "{{resource}}")],
              "ratio", w=8, max1=True, thresholds70=True),
        panel("Used %", "bargauge", [('poolwatch_pool_used_ratio{pool="$pool"}', "{{resource}}")],
              "ratio", w=8, max1=True, thresholds70=True),
        panel("Days to 70 %", "table",
              [('poolwatch_pool_days_to_threshold{pool="$pool",threshold="0.7"}', "{{resource}} {{kind}}")],
              "days", w=8),
        panel("Allocated % over time", "timeseries",
              [('poolwatch_pool_allocated_ratio{pool="$pool"}', "{{resource}}")], "ratio", thresholds70=True),
        panel("Used % over time", "timeseries",
              [('poolwatch_pool_used_ratio{pool="$pool"}', "{{resource}}")], "ratio", thresholds70=True),
        panel("CPU: capacity, allocated, used", "timeseries", [
            ('poolwatch_pool_capacity{pool="$pool",resource="cpu"}', "capacity (CPUs)"),
            ('poolwatch_pool_allocated{pool="$pool",resource="cpu"}', "allocated (vCPUs)"),
            ('poolwatch_pool_used{pool="$pool",resource="cpu"}', "used (CPUs busy)")], "cpus"),
        panel("Memory: capacity, allocated, used", "timeseries", [
            ('poolwatch_pool_capacity{pool="$pool",resource="memory"}', "capacity"),
            ('poolwatch_pool_allocated{pool="$pool",resource="memory"}', "allocated"),
            ('poolwatch_pool_used{pool="$pool",resource="memory"}', "used")], "bytes"),
    ], [var("pool", "Pool", "label_values(poolwatch_pool_capacity, pool)")], time_from="now-30d"),
    "host-detail": dashboard("poolwatch-host", "poolwatch / Host detail", [
        panel("CPU busy", "timeseries", [(HOST_CPU % (',host="$host"', '{host="$host"}'), "busy")],
              "ratio", max1=True, thresholds70=True),
        panel("Memory", "timeseries", [
            ('node_memory_MemTotal_bytes{host="$host"} - node_memory_MemAvailable_bytes{host="$host"}', "used"),
            ('node_memory_MemTotal_bytes{host="$host"}', "total")], "bytes"),
        panel("Disk I/O", "timeseries", [
            ('sum(rate(node_disk_read_bytes_total{host="$host"}[' + R + ']))', "read"),
            ('sum(rate(node_disk_written_bytes_total{host="$host"}[' + R + ']))', "written")], "Bps"),
        panel("Network", "timeseries", [
            ('sum(rate(node_network_receive_bytes_total{host="$host",device!="lo"}[' + R + ']))', "received"),
            ('sum(rate(node_network_transmit_bytes_total{host="$host",device!="lo"}[' + R + ']))', "sent")], "Bps"),
        panel("VMs on this host: vCPUs", "bargauge", [('poolwatch_vm_vcpus{host="$host"}', "{{vm_name}}")], w=24),
    ], [var("host", "Host", "label_values(poolwatch_node_cpus, host)")]),
    "vm-detail": dashboard("poolwatch-vm", "poolwatch / VM detail", [
        panel("CPUs used", "timeseries", [
            ('sum(rate(poolwatch_vm_cpu_seconds_total{vm_name="$vm"}[' + R + ']))', "used"),
            ('max(poolwatch_vm_vcpus{vm_name="$vm"})', "vCPUs")], "cpus"),
        panel("Memory", "timeseries", [
            ('sum(poolwatch_vm_balloon_available_bytes{vm_name="$vm"} - poolwatch_vm_balloon_unused_bytes{vm_name="$vm"})', "used in the guest"),
            ('max(poolwatch_vm_memory_max_bytes{vm_name="$vm"})', "allocated")], "bytes"),
        panel("Disk I/O", "timeseries", [
            ('sum(rate(poolwatch_vm_disk_read_bytes_total{vm_name="$vm"}[' + R + ']))', "read"),
            ('sum(rate(poolwatch_vm_disk_written_bytes_total{vm_name="$vm"}[' + R + ']))', "written")], "Bps"),
        panel("Network", "timeseries", [
            ('sum(rate(poolwatch_vm_network_receive_bytes_total{vm_name="$vm"}[' + R + ']))', "received"),
            ('sum(rate(poolwatch_vm_network_transmit_bytes_total{vm_name="$vm"}[' + R + ']))', "sent")], "Bps"),
    ], [var("vm", "VM", "label_values(poolwatch_vm_info, vm_name)")]),
    "using-unit": dashboard("poolwatch-tenant", "poolwatch / Using unit (tenant)", [
        panel("CPUs used by VM", "timeseries",
              [('sum by (vm_name) (rate(poolwatch_vm_cpu_seconds_total{tenant="$tenant"}[' + R + ']))', "{{vm_name}}")],
              "cpus"),
        panel("Memory used in the guest by VM", "timeseries",
              [('sum by (vm_name) (poolwatch_vm_balloon_available_bytes{tenant="$tenant"} - poolwatch_vm_balloon_unused_bytes{tenant="$tenant"})', "{{vm_name}}")],
              "bytes"),
        panel("Network by VM", "timeseries",
              [('sum by (vm_name) (rate(poolwatch_vm_network_receive_bytes_total{tenant="$tenant"}[' + R + ']) + rate(poolwatch_vm_network_transmit_bytes_total{tenant="$tenant"}[' + R + ']))', "{{vm_name}}")],
              "Bps"),
        panel("Disk I/O by VM", "timeseries",
              [('sum by (vm_name) (rate(poolwatch_vm_disk_read_bytes_total{tenant="$tenant"}[' + R + ']) + rate(poolwatch_vm_disk_written_bytes_total{tenant="$tenant"}[' + R + ']))', "{{vm_name}}")],
              "Bps"),
    ], [var("tenant", "Using unit", "label_values(poolwatch_vm_cpu_seconds_total, tenant)")]),
}

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, d in DASHBOARDS.items():
        with open(os.path.join(here, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(d, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print("wrote", name + ".json")
