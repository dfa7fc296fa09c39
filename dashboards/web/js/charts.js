// charts.js - time series charts with uPlot (vendor/uPlot.iife.min.js, the
// global uPlot): one helper that aligns several series on one time axis.

import { t } from './i18n.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

// series: [{label, values: [[tSeconds, v], ...], dash?}];
// opts: {fmt, threshold, height, yMax, xRange: [startS, endS] (else the data's)}
// Returns the uPlot instance (or null with an "empty" note when there is nothing).
export function lineChart(el, series, opts = {}) {
  el.textContent = '';
  const withData = series.filter((s) => s.values.length > 0);
  if (withData.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = t('chart.empty');
    el.appendChild(p);
    return null;
  }
  const xs = [...new Set(withData.flatMap((s) => s.values.map((v) => v[0])))].sort((a, b) => a - b);
  const idx = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  for (const s of withData) {
    const col = new Array(xs.length).fill(null);
    for (const [x, v] of s.values) col[idx.get(x)] = Number.isFinite(v) ? v : null;
    data.push(col);
  }
  const fmt = opts.fmt || ((v) => String(v));
  const useries = [{}].concat(withData.map((s, i) => ({
    label: s.label,
    stroke: COLORS[i % COLORS.length],
    width: 1.5,
    dash: s.dash ? [6, 4] : undefined,
    value: (u, v) => (v === null ? '—' : fmt(v)),
    spanGaps: false,
  })));
  const hooks = {};
  if (opts.threshold !== undefined) {
    // The 70 % line, drawn under the series.
    hooks.drawAxes = [(u) => {
      const y = u.valToPos(opts.threshold, 'y', true);
      const { ctx } = u;
      ctx.save();
      ctx.strokeStyle = '#e67e22';
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.restore();
    }];
  }
  const width = Math.max(280, el.clientWidth || 600);
  return new uPlot({ // eslint-disable-line no-undef
    width,
    height: opts.height || 220,
    series: useries,
    scales: {
      x: opts.xRange ? { time: true, range: () => opts.xRange } : { time: true },
      y: opts.yMax !== undefined
        ? { range: (u, min, max) => [0, Math.max(opts.yMax, max)] }
        : { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
    },
    axes: [{}, { values: (u, vals) => vals.map(fmt), size: 90 }],
    hooks,
    legend: { live: true },
  }, data, el);
}
