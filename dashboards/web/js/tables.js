// tables.js - hosts and VMs as Tabulator tables (vendor/tabulator.min.js, the
// global Tabulator): sorting, paging and filtering are the library's, so tens
// of thousands of rows stay responsive (only one page is in the DOM).

import { api, query, ApiError } from './api.js';
import { age, bytes, h, time } from './format.js';
import { t } from './i18n.js';

const STALE_MS = 5 * 60 * 1000;
const STATES = { 1: 'running', 2: 'running', 3: 'paused', 4: 'other', 5: 'shutoff', 6: 'crashed', 7: 'other' };

function table(el, rows, columns, searchPh, onRow) {
  el.innerHTML = `<div class="toolbar"><input type="search" class="search" placeholder="${h(t(searchPh))}">
    <span class="count"></span></div><div class="grid"></div>`;
  const count = el.querySelector('.count');
  const tab = new Tabulator(el.querySelector('.grid'), { // eslint-disable-line no-undef
    data: rows,
    layout: 'fitColumns',
    pagination: true,
    paginationSize: 50,
    paginationSizeSelector: [25, 50, 100, 500],
    columns,
    placeholder: t('chart.empty'),
  });
  const shown = () => { count.textContent = t('rows', { n: tab.getDataCount('active') }); };
  tab.on('dataFiltered', shown);
  tab.on('tableBuilt', shown);
  tab.on('rowClick', (e, row) => onRow(row.getData()));
  el.querySelector('.search').addEventListener('input', (e) => {
    const q = e.target.value.trim().toLowerCase();
    if (!q) tab.clearFilter();
    else tab.setFilter((d) => columns.some((c) => String(d[c.field] ?? '').toLowerCase().includes(q)));
  });
  return tab;
}

export async function renderHosts(el, can) {
  if (!can.hosts) {
    el.innerHTML = `<p class="note">${h(t('error.forbidden'))}</p>`;
    return;
  }
  el.innerHTML = `<p>${h(t('loading'))}</p>`;
  let hosts;
  try {
    hosts = await api('/api/v1/hosts');
  } catch (e) {
    el.innerHTML = `<p class="error">${h(t('error.load', { msg: e.message }))}</p>`;
    return;
  }
  const rows = hosts.map((x) => ({
    host: x.host, agent: x.agent_id, version: x.version, last_seen: time(x.last_seen_ms),
    age_ms: x.age_ms, age: age(x.age_ms), samples: x.samples,
    status: x.age_ms > STALE_MS ? t('status.stale') : t('status.ok'),
  }));
  table(el, rows, [
    { title: t('col.host'), field: 'host', sorter: 'string' },
    { title: t('col.agent'), field: 'agent', sorter: 'string' },
    { title: t('col.version'), field: 'version', width: 100 },
    { title: t('col.last_seen'), field: 'last_seen', sorter: 'string' },
    { title: t('col.age'), field: 'age', sorter: (a, b, ra, rb) => ra.getData().age_ms - rb.getData().age_ms, width: 100 },
    { title: t('col.samples'), field: 'samples', sorter: 'number', hozAlign: 'right' },
    { title: t('col.status'), field: 'status', width: 100 },
  ], 'hosts.search', (d) => { location.hash = '#/host/' + encodeURIComponent(d.host); });
}

// Instant query that may legitimately fail (a limit with very many VMs): {} then.
async function byVm(q) {
  const out = {};
  try {
    for (const s of await query(q)) {
      const k = s.metric.vm_name || s.metric.vm;
      out[k] = (out[k] || 0) + s.value;
    }
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  return out;
}

// The VMs: the inventory's (owner, system, pool; tenant tokens see their own)
// joined by name with the domains the hypervisor agents report.
export async function loadVms(can) {
  const byName = new Map();
  for (const v of can.inventory || []) {
    byName.set(v.name, {
      name: v.name, uuid: v.uuid || '', tenant: v.tenant || '', system: v.system || '',
      pool: v.pool || '', host: v.host || '', vcpus: v.vcpus ?? null,
      memory: v.memory_gb != null ? v.memory_gb * 1073741824 : null, state: '',
    });
  }
  let seen = [];
  try {
    const now = Math.floor(Date.now() / 1000);
    seen = await api('/api/v1/series', { 'match[]': 'poolwatch_vm_info', start: now - 3600, end: now });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  if (seen.length) {
    const [vcpus, mem, state] = await Promise.all([byVm('poolwatch_vm_vcpus'),
      byVm('poolwatch_vm_memory_max_bytes'), byVm('max by (vm_name) (poolwatch_vm_state)')]);
    for (const s of seen) {
      const name = s.vm_name || s.vm;
      const r = byName.get(name) || { name, uuid: '', tenant: '', system: '', pool: '', host: '', vcpus: null, memory: null, state: '' };
      r.uuid = r.uuid || s.vm || '';
      r.host = s.host || r.host;
      if (name in vcpus) r.vcpus = vcpus[name];
      if (name in mem) r.memory = mem[name];
      r.state = name in state ? t('state.' + (STATES[state[name]] || 'other')) : r.state;
      byName.set(name, r);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function renderVms(el, can) {
  el.innerHTML = `<p>${h(t('loading'))}</p>`;
  let rows;
  try {
    rows = await loadVms(can);
  } catch (e) {
    el.innerHTML = `<p class="error">${h(t('error.load', { msg: e.message }))}</p>`;
    return;
  }
  for (const r of rows) r.memory_text = r.memory === null ? '—' : bytes(r.memory);
  table(el, rows, [
    { title: t('col.name'), field: 'name', sorter: 'string' },
    { title: t('col.tenant'), field: 'tenant', sorter: 'string' },
    { title: t('col.system'), field: 'system', sorter: 'string' },
    { title: t('col.pool'), field: 'pool', sorter: 'string', width: 110 },
    { title: t('col.host'), field: 'host', sorter: 'string' },
    { title: t('col.vcpus'), field: 'vcpus', sorter: 'number', hozAlign: 'right', width: 80 },
    { title: t('col.memory'), field: 'memory_text', sorter: (a, b, ra, rb) => (ra.getData().memory ?? -1) - (rb.getData().memory ?? -1), hozAlign: 'right', width: 110 },
    { title: t('col.state'), field: 'state', width: 90 },
  ], 'vms.search', (d) => { location.hash = '#/vm/' + encodeURIComponent(d.name); });
}
