// recommendations.js - the Recommendations page: GET /api/v1/recommendations
// (collector/recommend.h) as a table, one row per VM finding (reclaim,
// downsize, expand) with its evidence and target size, the units flagged for
// suspending new requests (R3), and the answer as a JSON download (fetched
// with the token, saved through a blob URL: a plain link would carry none).

import { api, ApiError, saveBlob } from './api.js';
import { h, num, pct } from './format.js';
import { t } from './i18n.js';

function download(name, obj) {
  saveBlob(new Blob([JSON.stringify(obj, null, 1)], { type: 'application/json' }), name);
}

export async function renderRecommendations(el) {
  el.innerHTML = `<h2>${h(t('nav.recs'))}</h2><p>${h(t('loading'))}</p>`;
  let d;
  try {
    d = await api('/api/v1/recommendations');
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    el.innerHTML = `<h2>${h(t('nav.recs'))}</h2><p class="error">${h(t('error.load', { msg: e.message }))}</p>`;
    return;
  }
  const rows = [];
  for (const s of d.systems || [])
    for (const v of s.vms || [])
      rows.push({ ...v, tenant: s.tenant, system: s.system });
  const flagged = (d.tenants || []).filter((x) => x.suspend_requests);
  el.innerHTML = `<h2>${h(t('nav.recs'))}</h2>
    <div class="toolbar"><span class="count">${h(t('recs.count', { n: rows.length, s: (d.systems || []).length }))}</span>
      <button type="button" class="dl">${h(t('recs.download'))}</button></div>
    ${flagged.length ? `<p class="error recs-flagged">${h(t('recs.flagged', { units: flagged.map((x) => x.tenant).join('、') }))}</p>` : ''}
    <section class="card recs">${rows.length ? `<table class="list"><thead><tr>
      <th>${h(t('col.tenant'))}</th><th>${h(t('col.system'))}</th><th>${h(t('col.name'))}</th>
      <th>${h(t('recs.finding'))}</th><th>${h(t('recs.action'))}</th><th>${h(t('recs.days'))}</th>
      <th>CPU p95</th><th>${h(t('recs.mem_p95'))}</th><th>${h(t('recs.net'))}</th>
      <th>${h(t('recs.size'))}</th><th>${h(t('recs.target'))}</th></tr></thead><tbody>
      ${rows.map((r) => `<tr data-vm="${h(r.vm)}" data-action="${h(r.action)}">
        <td>${h(r.tenant)}</td><td>${h(r.system)}</td><td>${h(r.vm)}</td>
        <td>${h(t('recs.finding.' + r.finding))}</td><td>${h(t('recs.action.' + r.action))}</td>
        <td class="num">${h(r.days)}/${h(r.of_days)}</td><td class="num">${pct(r.cpu_p95)}</td>
        <td class="num">${pct(r.mem_p95)}</td><td class="num">${num(r.net_mb_per_day, 1)}</td>
        <td>${h(r.vcpus)} vCPU / ${h(r.memory_gb)} GB</td>
        <td>${r.target ? `${h(r.target.vcpus)} vCPU / ${h(r.target.memory_gb)} GB` : ''}</td></tr>`).join('')}
      </tbody></table>` : `<p class="note" data-testid="no-recs">${h(t('recs.none'))}</p>`}</section>`;
  el.querySelector('.dl').addEventListener('click', () => download('recommendations.json', d));
}
