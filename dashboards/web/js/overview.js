// overview.js - the pools: per resource the allocated and used ratios as bars
// against the 70 % line, days until 70 %, and 30 days of daily maxima.

import { api, queryRange, ApiError } from './api.js';
import { lineChart } from './charts.js';
import { capacity, h, pct } from './format.js';
import { t } from './i18n.js';

const RESOURCES = ['cpu', 'memory', 'storage', 'network'];
const SCALE = 1.25;   // bars run to 125 %: over-allocation stays visible

function bar(kind, ratio) {
  const w = ratio === null || ratio === undefined ? 0 : Math.min(ratio, SCALE) / SCALE * 100;
  const cls = ratio >= 1 ? 'crit' : ratio >= 0.7 ? 'warn' : 'ok';
  return `<div class="bar ${kind}" title="${h(t(kind))}">
      <div class="fill ${ratio === null || ratio === undefined ? 'none' : cls}" style="width:${w.toFixed(2)}%"></div>
      <div class="line70" style="left:${(0.7 / SCALE * 100).toFixed(2)}%"></div>
    </div>`;
}

function days(d) {
  if (d === null || d === undefined) return t('days.none');
  if (d <= 0) return t('days.now');
  return t('days.n', { n: Math.floor(d) });
}

function resourceRow(pool, r) {
  const kinds = r.resource === 'network' ? ['used'] : ['allocated', 'used'];
  return `<div class="res" data-pool="${h(pool)}" data-resource="${r.resource}">
    <div class="res-name"><b>${h(t('res.' + r.resource))}</b>
      <span class="cap">${h(capacity(r.resource, r.capacity))}${r.overcommit && r.overcommit !== 1 ? ' ×' + r.overcommit : ''}</span></div>
    ${kinds.map((k) => `<div class="kind" data-kind="${k}">
      <span class="kname">${h(t(k))}</span>${bar(k, r[k + '_ratio'])}
      <span class="val" data-testid="ratio">${pct(r[k + '_ratio'])}</span>
      <span class="days" data-testid="days">${h(t('days.to70'))}: ${h(days(r.days_to_threshold?.[k]?.['0.7']))}</span>
    </div>`).join('')}
  </div>`;
}

export async function renderOverview(el, can) {
  el.innerHTML = `<h2>${h(t('overview.pools'))}</h2><div id="alerts-count"></div><div class="pools"></div>`;
  const box = el.querySelector('.pools');
  if (!can.pools) {
    box.innerHTML = `<p class="note">${h(t('overview.noaccess'))}</p>`;
    return false;
  }
  let data;
  try {
    data = await api('/api/v1/pools');
  } catch (e) {
    box.innerHTML = `<p class="error">${h(t('error.load', { msg: e.message }))}</p>`;
    return true;
  }
  renderAlertsCount(el.querySelector('#alerts-count'));
  if (!data.pools.length) {
    box.innerHTML = `<p class="note">${h(t('overview.none'))}</p>`;
    return true;
  }
  box.innerHTML = data.pools.map((p) => `<section class="pool card" data-pool="${h(p.pool)}">
      <h3>${h(p.pool)}</h3>
      <p class="meta">${h(t('overview.hosts', { measured: p.hosts_measured, hosts: p.hosts, source: p.allocation_source, vms: p.vms }))}</p>
      ${RESOURCES.map((name) => p.resources.find((r) => r.resource === name)).filter(Boolean)
        .map((r) => resourceRow(p.pool, r)).join('')}
      <h4>${h(t('overview.trend'))}</h4>
      <div class="trend" data-pool="${h(p.pool)}"></div>
    </section>`).join('');
  trends(box, data.time_ms / 1000);
  return true;
}

// 30 days of daily maxima of every pool's used ratios: one query for all pools.
async function trends(box, now) {
  const end = Math.floor(now / 86400) * 86400 + 86400, start = end - 31 * 86400;
  let used = [];
  try {
    used = await queryRange('max_over_time(poolwatch_pool_used_ratio[1d])', start, end, 86400);
  } catch (e) { /* the bars are there; the trend just stays empty */ }
  for (const div of box.querySelectorAll('.trend')) {
    const mine = used.filter((s) => s.metric.pool === div.dataset.pool)
      .sort((a, b) => RESOURCES.indexOf(a.metric.resource) - RESOURCES.indexOf(b.metric.resource))
      .map((s) => ({ label: t('res.' + s.metric.resource), values: s.values }));
    lineChart(div, mine, { fmt: (v) => pct(v, 0), threshold: 0.7, yMax: 1, height: 160, xRange: [start, end] });
  }
}

// Active alerts (pending and firing; silenced ones counted apart), linking to
// the Alerts page; nothing shown when the alert engine is off (503).
async function renderAlertsCount(el) {
  try {
    const d = await api('/api/v1/alerts');
    const list = d.alerts || [];
    const silenced = list.filter((a) => (a.silenced_by || []).length > 0).length;
    const firing = list.filter((a) => a.state === 'firing').length;
    el.innerHTML = `<p class="alerts ${firing - silenced > 0 ? 'firing' : ''}"><a href="#/alerts">${h(t('overview.alerts'))}</a>:
      <b data-testid="alerts">${list.length}</b>
      <span class="meta">${h(t('overview.alerts.detail', { firing, silenced }))}</span></p>`;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
}
