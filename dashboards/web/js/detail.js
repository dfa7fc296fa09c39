// detail.js - one host's or VM's CPU, memory, disk and network over a range
// from 1 hour to 13 months. The page picks a step giving at most ~400
// points; the collector picks raw points or 5m / 1h / 1d rollups for it.

import { esc, queryRange } from './api.js';
import { lineChart } from './charts.js';
import { bytes, h, num, pct, rate } from './format.js';
import { t } from './i18n.js';

export const RANGES = [['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800],
  ['30d', 2592000], ['90d', 7776000], ['395d', 34128000]];
const STEPS = [60, 300, 900, 1800, 3600, 10800, 21600, 86400];

export function stepFor(seconds) {
  return STEPS.find((s) => seconds / s <= 400) || 86400;
}

// Queries per chart: [label key, PromQL, dashed]. W is the rate window.
function hostCharts(sel, W) {
  return [
    // Whole-machine CPU time over the CPU count (agent/README.md): the share busy.
    ['chart.cpu', pct, [['series.busy',
      `sum(rate(poolwatch_node_cpu_seconds_total{${sel},mode!~"idle|iowait"}[${W}])) / max(poolwatch_node_cpus{${sel}})`]]],
    ['chart.memory', bytes, [
      ['series.used', `node_memory_MemTotal_bytes{${sel}} - node_memory_MemAvailable_bytes{${sel}}`],
      ['series.total', `node_memory_MemTotal_bytes{${sel}}`, true]]],
    ['chart.disk', rate, [
      ['series.read', `sum(rate(node_disk_read_bytes_total{${sel}}[${W}]))`],
      ['series.write', `sum(rate(node_disk_written_bytes_total{${sel}}[${W}]))`]]],
    ['chart.network', rate, [
      ['series.rx', `sum(rate(node_network_receive_bytes_total{${sel},device!="lo"}[${W}]))`],
      ['series.tx', `sum(rate(node_network_transmit_bytes_total{${sel},device!="lo"}[${W}]))`]]],
  ];
}

function vmCharts(sel, W) {
  return [
    ['chart.cpu', (v) => num(v), [
      ['series.cpus_used', `sum(rate(poolwatch_vm_cpu_seconds_total{${sel}}[${W}]))`],
      ['series.vcpus', `max(poolwatch_vm_vcpus{${sel}})`, true]]],
    ['chart.memory', bytes, [
      ['series.used', `sum(poolwatch_vm_balloon_available_bytes{${sel}} - poolwatch_vm_balloon_unused_bytes{${sel}})`],
      ['series.allocated', `max(poolwatch_vm_memory_max_bytes{${sel}})`, true]]],
    ['chart.disk', rate, [
      ['series.read', `sum(rate(poolwatch_vm_disk_read_bytes_total{${sel}}[${W}]))`],
      ['series.write', `sum(rate(poolwatch_vm_disk_written_bytes_total{${sel}}[${W}]))`]]],
    ['chart.network', rate, [
      ['series.rx', `sum(rate(poolwatch_vm_network_receive_bytes_total{${sel}}[${W}]))`],
      ['series.tx', `sum(rate(poolwatch_vm_network_transmit_bytes_total{${sel}}[${W}]))`]]],
  ];
}

// kind: 'host' | 'vm'
export function renderDetail(el, kind, name, rangeKey) {
  const range = RANGES.find((r) => r[0] === rangeKey) || RANGES[2];
  el.innerHTML = `<p><a href="#/${kind}s" class="back">${h(t('detail.back'))}</a></p>
    <h2>${h(t('detail.' + kind, { name }))}</h2>
    <div class="ranges" role="group" aria-label="${h(t('detail.range'))}">${RANGES.map(([k]) =>
      `<button type="button" data-range="${k}" class="${k === range[0] ? 'on' : ''}">${h(t('range.' + k))}</button>`).join('')}</div>
    <div class="charts"></div>`;
  for (const b of el.querySelectorAll('.ranges button')) {
    b.addEventListener('click', () => {
      location.hash = `#/${kind}/${encodeURIComponent(name)}/${b.dataset.range}`;
    });
  }
  const step = stepFor(range[1]);
  const W = Math.max(step, 300) + 's';
  const sel = kind === 'host' ? `host="${esc(name)}"` : `vm_name="${esc(name)}"`;
  const defs = kind === 'host' ? hostCharts(sel, W) : vmCharts(sel, W);
  const end = Math.ceil(Date.now() / 1000 / step) * step, start = end - range[1];
  const box = el.querySelector('.charts');
  el.dataset.step = step;
  return Promise.all(defs.map(async ([title, fmt, qs]) => {
    const card = document.createElement('section');
    card.className = 'card chart';
    card.dataset.chart = title.slice(6);
    card.innerHTML = `<h3>${h(t(title))}</h3><div class="plot"></div>`;
    box.appendChild(card);
    const series = await Promise.all(qs.map(async ([label, q, dash]) => {
      try {
        const r = await queryRange(q, start, end, step);
        return { label: t(label), values: r.length ? r[0].values : [], dash };
      } catch (e) {
        return { label: t(label), values: [], dash };
      }
    }));
    const cpuPct = kind === 'host' && title === 'chart.cpu';
    lineChart(card.querySelector('.plot'), series,
      { fmt, threshold: cpuPct ? 0.7 : undefined, yMax: cpuPct ? 1 : undefined, xRange: [start, end] });
    card.dataset.points = series.reduce((n, s) => n + s.values.length, 0);
  }));
}
