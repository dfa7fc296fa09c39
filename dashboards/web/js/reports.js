// reports.js - the Reports page (action read_reports, every role):
//
// - generate: GET /api/v1/reports/{monthly|quarterly|annual|service-year}
//   with the period (month, quarter or year), lang and, for roles that see the
//   whole cloud, an optional unit (tenant); opened as HTML in a new tab or
//   downloaded as XLSX / CSV / JSON. The collector builds the report in the
//   request (seconds for a large cloud): the buttons wait, a progress line
//   says what is being made, one request at a time.
// - archive: GET /api/v1/reports, the monthly archive (each file with its
//   size and SHA-256, checked by the collector), each downloadable.
//
// Every file is fetched with the token and handed over as a blob URL (a link
// or a new tab cannot send the Authorization header); the name comes from
// the answer's Content-Disposition. A tenant token gets its own unit's
// reports only (the API sees to it): no unit picker.

import { api, apiFile, ApiError, saveBlob } from './api.js';
import { bytes, h } from './format.js';
import { getLang, t } from './i18n.js';

const KINDS = ['monthly', 'quarterly', 'annual', 'service-year'];
const FORMATS = ['xlsx', 'csv', 'json'];

const pad2 = (n) => String(n).padStart(2, '0');

// The defaults: the previous month, and the quarter, year and service year
// (Sep 1 - Aug 31, named by the year it starts in) that hold it.
function defaults(now = new Date()) {
  const y = now.getMonth() === 0 ? now.getFullYear() - 1 : now.getFullYear();
  const m = now.getMonth() === 0 ? 12 : now.getMonth();      // 1..12
  return { month: `${y}-${pad2(m)}`, year: y, quarter: 'Q' + Math.ceil(m / 3), sy: m >= 9 ? y : y - 1 };
}

// The period parameter of a kind from the form: [name, value].
function period(f) {
  const kind = f.elements.kind.value;
  if (kind === 'monthly') return ['month', f.elements.month.value];
  if (kind === 'quarterly') {
    const q = f.elements.quarter.value;                      // Q1..Q4 or SYQ1..SYQ4
    const y = f.elements.qyear.value.trim();
    return ['quarter', q.startsWith('SY') ? `SY${y}-${q.slice(2)}` : `${y}-${q}`];
  }
  return ['year', f.elements[kind === 'annual' ? 'year' : 'syear'].value.trim()];
}

// A unit's name as the archive's file names carry it (collector/README.md,
// "Archive": % ~ / \ " DEL and control bytes as %XX), for the JSON download's name.
function slug(s) {
  return s.replace(/[%~/\\"\x00-\x1f\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

// An archived file's unit: poolwatch-monthly-YYYY-MM-<slug>.<ext>, none for the whole cloud.
function archivedUnit(a) {
  const base = a.file.replace(/\.[^.]*$/, '');
  const pre = `poolwatch-monthly-${a.month}`;
  if (!base.startsWith(pre + '-')) return '';
  const s = base.slice(pre.length + 1);
  try { return decodeURIComponent(s); } catch (e) { return s; }
}

function kindOptions() {
  return KINDS.map((k) => `<option value="${k}">${h(t('reports.kind.' + k))}</option>`).join('');
}

function quarterOptions(current) {
  const qs = ['Q1', 'Q2', 'Q3', 'Q4', 'SYQ1', 'SYQ2', 'SYQ3', 'SYQ4'];
  return qs.map((q) => `<option value="${q}"${q === current ? ' selected' : ''}>${h(t('reports.q.' + q))}</option>`).join('');
}

function archiveTable(list) {
  if (!list.length) return `<p class="note" data-testid="no-archive">${h(t('reports.archive.none'))}</p>`;
  return `<table class="list archive"><thead><tr>
      <th>${h(t('reports.col.month'))}</th><th>${h(t('col.tenant'))}</th><th>${h(t('reports.col.format'))}</th>
      <th>${h(t('reports.col.size'))}</th><th>SHA-256</th><th>${h(t('reports.col.time'))}</th>
      <th>${h(t('reports.col.check'))}</th><th></th></tr></thead><tbody>
    ${list.map((a, i) => {
      const unit = archivedUnit(a), ext = (a.file.match(/\.([^.]+)$/) || ['', ''])[1];
      return `<tr class="archived" data-month="${h(a.month)}" data-file="${h(a.file)}" data-unit="${h(unit)}" data-format="${h(ext)}">
        <td>${h(a.month)}</td><td>${unit ? h(unit) : `<i>${h(t('reports.cloud'))}</i>`}</td>
        <td>${h(ext.toUpperCase())}</td><td class="num">${h(bytes(a.size))}</td>
        <td class="labels" title="${h(a.sha256)}">${h(String(a.sha256).slice(0, 12))}…</td>
        <td>${h(String(a.time).replace('T', ' ').replace('Z', ''))}</td>
        <td>${a.intact ? `<span class="badge st-s-active">${h(t('reports.intact'))}</span>`
          : `<span class="badge st-firing">${h(t('reports.modified'))}</span>`}</td>
        <td>${a.intact ? `<button type="button" class="archive-dl" data-i="${i}">${h(t('reports.download'))}</button>` : ''}</td>
      </tr>`;
    }).join('')}</tbody></table>`;
}

export async function renderReports(el, can) {
  const tenant = can.who.role === 'tenant';
  const d = defaults();
  const units = [...new Set((can.inventory || []).map((v) => v.tenant).filter(Boolean))]
    .sort((a, b) => a.localeCompare(b, 'zh'));
  let archive = [], archiveError = '', busy = false, htmlUrl = null;

  el.innerHTML = `<h2>${h(t('nav.reports'))}</h2>
    <section class="card report-gen"><h3>${h(t('reports.generate'))}</h3>
      <form class="report-form" autocomplete="off" data-busy="0">
        <label>${h(t('reports.kind'))} <select name="kind">${kindOptions()}</select></label>
        <label data-kind="monthly">${h(t('reports.month'))} <input type="month" name="month" value="${d.month}" required></label>
        <label data-kind="quarterly" hidden>${h(t('reports.year'))} <input type="number" name="qyear" min="2000" max="2199" value="${d.year}"></label>
        <label data-kind="quarterly" hidden>${h(t('reports.quarter'))} <select name="quarter">${quarterOptions(d.quarter)}</select></label>
        <label data-kind="annual" hidden>${h(t('reports.year'))} <input type="number" name="year" min="2000" max="2199" value="${d.year}"></label>
        <label data-kind="service-year" hidden>${h(t('reports.syear'))} <input type="number" name="syear" min="2000" max="2199" value="${d.sy}">
          <span class="note sy-span"></span></label>
        <label>${h(t('reports.lang'))} <select name="lang">
          <option value="zh"${getLang() === 'zh' ? ' selected' : ''}>中文</option>
          <option value="en"${getLang() === 'en' ? ' selected' : ''}>English</option></select></label>
        ${tenant ? `<span class="unit-fixed">${h(t('col.tenant'))}: <b>${h(can.who.tenant)}</b></span>`
          : `<label>${h(t('col.tenant'))} <select name="tenant"><option value="">${h(t('reports.cloud'))}</option>
            ${units.map((u) => `<option value="${h(u)}">${h(u)}</option>`).join('')}</select></label>`}
        <span class="buttons">
          <button type="button" class="gen" data-format="html">${h(t('reports.open_html'))}</button>
          ${FORMATS.map((f) => `<button type="button" class="gen" data-format="${f}">${h(t('reports.download_fmt', { f: f.toUpperCase() }))}</button>`).join('')}
        </span>
      </form>
      <p class="status" role="status"></p>
      <p class="error gen-error" role="alert"></p>
    </section>
    <section class="card report-archive"><h3>${h(t('reports.archive'))}</h3>
      <p class="note">${h(t('reports.archive.note'))}</p>
      <p class="error archive-error" role="alert"></p><div class="archive-list"></div></section>`;

  const q = (s) => el.querySelector(s);
  const form = q('.report-form');
  // Still this rendering of the page (main.js renders every route into the same element).
  const live = () => form.isConnected;

  const showKind = () => {
    const k = form.elements.kind.value;
    for (const l of form.querySelectorAll('label[data-kind]')) l.hidden = l.dataset.kind !== k;
    const y = Number(form.elements.syear.value);
    q('.sy-span').textContent = Number.isInteger(y) && y > 0 ? `${y}-09-01 – ${y + 1}-08-31` : '';
  };
  form.addEventListener('submit', (e) => e.preventDefault());    // Enter in a field: no page reload
  form.elements.kind.addEventListener('change', showKind);
  form.elements.syear.addEventListener('input', showKind);
  showKind();

  // The progress line and the buttons while a request runs; the form's
  // data-busy tells the browser test (and CSS) that one is under way.
  const setBusy = (on, text) => {
    busy = on;
    form.dataset.busy = on ? '1' : '0';
    for (const b of el.querySelectorAll('button.gen, button.archive-dl')) b.disabled = on;
    const st = q('.status');
    st.classList.toggle('busy', on);
    st.textContent = text || '';
  };
  const fail = (e) => {
    if (!(e instanceof ApiError)) throw e;
    q('.gen-error').textContent = t('reports.failed', { msg: e.message || ('HTTP ' + e.status) });
  };

  const generate = async (fmt) => {
    if (busy) return;
    const [pname, pval] = period(form);
    const params = { [pname]: pval, format: fmt, lang: form.elements.lang.value };
    const unit = tenant ? '' : form.elements.tenant.value;
    if (unit) params.tenant = unit;
    const kind = form.elements.kind.value;
    const path = '/api/v1/reports/' + kind;
    const base = `poolwatch-${kind}-${pval}${unit ? '-' + slug(unit) : ''}`;
    // The tab opens now, inside the click (a tab opened after the wait would be
    // a popup the browser blocks), and gets the report when it is made.
    const tab = fmt === 'html' ? window.open('', '_blank') : null;
    if (tab) {
      tab.document.title = t('reports.generating_fmt', { f: 'HTML' });
      tab.document.body.textContent = t('reports.generating_fmt', { f: 'HTML' });
    }
    q('.gen-error').textContent = '';
    setBusy(true, t('reports.generating', { what: `${t('reports.kind.' + kind)} ${pval}${unit ? ' · ' + unit : ''}`, f: fmt.toUpperCase() }));
    const started = Date.now();
    try {
      let file;
      if (fmt === 'json') {
        // JSON comes wrapped as every API answer: the file is its data.
        const data = await api(path, params);
        file = { blob: new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' }), name: base + '.json' };
      } else {
        file = await apiFile(path, params, `${base}.${fmt}`);
      }
      // The file is delivered even when the page was left meanwhile: it was asked for.
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (fmt === 'html') {
        if (htmlUrl) URL.revokeObjectURL(htmlUrl);    // the tab of the one before keeps its page
        htmlUrl = URL.createObjectURL(new Blob([file.blob], { type: 'text/html;charset=utf-8' }));
        if (tab) tab.location.replace(htmlUrl);
        if (!live()) return;
        setBusy(false, '');
        q('.status').innerHTML = h(t('reports.opened', { name: file.name, size: bytes(file.blob.size), s: secs }))
          + ` <a href="${htmlUrl}" target="_blank" rel="noopener" class="html-link">${h(t('reports.open_again'))}</a>`;
      } else {
        saveBlob(file.blob, file.name);
        if (!live()) return;
        setBusy(false, t('reports.saved', { name: file.name, size: bytes(file.blob.size), s: secs }));
      }
      q('.status').dataset.file = file.name;
    } catch (e) {
      if (tab) tab.close();
      if (!live()) return;
      setBusy(false, '');
      fail(e);
    }
  };
  for (const b of el.querySelectorAll('button.gen'))
    b.addEventListener('click', () => generate(b.dataset.format));

  const downloadArchived = async (a) => {
    if (busy) return;
    q('.gen-error').textContent = '';
    setBusy(true, t('reports.fetching', { name: a.file }));
    try {
      // The path from month and file, each encoded (the listing's url is the raw
      // name; a unit's slug may hold "%" itself).
      const file = await apiFile(`/api/v1/reports/archive/${encodeURIComponent(a.month)}/${encodeURIComponent(a.file)}`,
        null, a.file);
      saveBlob(file.blob, file.name);
      if (!live()) return;
      setBusy(false, t('reports.saved_archived', { name: file.name, size: bytes(file.blob.size) }));
      q('.status').dataset.file = file.name;
    } catch (e) {
      if (!live()) return;
      setBusy(false, '');
      fail(e);
    }
  };

  try {
    // Newest month first, the whole cloud's files before the units'.
    const key = (a) => [a.month, archivedUnit(a), a.file];
    archive = (await api('/api/v1/reports')).slice().sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      if (x[0] !== y[0]) return x[0] < y[0] ? 1 : -1;
      return x[1] !== y[1] ? x[1].localeCompare(y[1], 'zh') : x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0;
    });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    archiveError = t('error.load', { msg: e.message });
  }
  if (!live()) return;
  q('.archive-error').textContent = archiveError;
  q('.archive-list').innerHTML = archiveTable(archive);
  for (const b of el.querySelectorAll('button.archive-dl'))
    b.addEventListener('click', () => downloadArchived(archive[Number(b.dataset.i)]));
}
