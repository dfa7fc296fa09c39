// alerts.js - the Alerts page: active alerts and the recent history from
// GET /api/v1/alerts, filtered by pool / unit / severity in the page; a
// "silence" button per alert (tokens whose role has write_alerts, per
// /api/v1/whoami) opening a small form (matchers prefilled from the alert's
// labels, duration, comment) that POSTs /api/v1/silences; the silences in
// force with an "expire" button (DELETE /api/v1/silence/<id>).
//
// The engine marks an alert silenced at its next pass (silenced_by), so after
// a silence is made the page re-reads until the mark shows, and while the
// page is open it re-reads every REFRESH_MS.

import { api, apiSend, ApiError } from './api.js';
import { h, time } from './format.js';
import { getLang, t } from './i18n.js';

const REFRESH_MS = 10000;
const HISTORY_DAYS = 7;
const DURATIONS = ['1h', '2h', '4h', '8h', '1d', '3d', '7d'];
// Labels shown in their own columns; the rest go to "labels".
const OWN = new Set(['alertname', 'severity', 'pool', 'tenant']);

let timer = null;

function mayWrite(can) { return (can.who.actions || []).includes('write_alerts'); }

function stateBadge(a) {
  const silenced = (a.silenced_by || []).length > 0;
  const st = silenced ? 'silenced' : a.inhibited ? 'inhibited' : a.state;
  return `<span class="badge st-${h(st)}" data-state="${h(st)}">${h(t('alerts.state.' + st))}</span>`;
}

function otherLabels(labels) {
  return Object.entries(labels || {}).filter(([k]) => !OWN.has(k))
    .map(([k, v]) => `${h(k)}=${h(v)}`).join(' ');
}

function summary(a) {
  const an = a.annotations || {};
  return (getLang() === 'zh' && an.summary_zh) || an.summary || '';
}

function matchesFilter(a, f) {
  const l = a.labels || {};
  return (!f.pool || l.pool === f.pool) && (!f.tenant || l.tenant === f.tenant)
    && (!f.severity || l.severity === f.severity);
}

function options(values, current, allKey) {
  return `<option value="">${h(t(allKey))}</option>` + [...values].sort()
    .map((v) => `<option value="${h(v)}"${v === current ? ' selected' : ''}>${h(v)}</option>`).join('');
}

function activeTable(list, write) {
  if (!list.length) return `<p class="note" data-testid="no-active">${h(t('alerts.none'))}</p>`;
  return `<table class="list alerts-active"><thead><tr>
      <th>${h(t('alerts.col.state'))}</th><th>${h(t('alerts.col.rule'))}</th><th>${h(t('alerts.col.severity'))}</th>
      <th>${h(t('col.pool'))}</th><th>${h(t('col.tenant'))}</th><th>${h(t('alerts.col.labels'))}</th>
      <th>${h(t('alerts.col.value'))}</th><th>${h(t('alerts.col.since'))}</th><th>${h(t('alerts.col.summary'))}</th>
      ${write ? '<th></th>' : ''}</tr></thead><tbody>
    ${list.map((a, i) => `<tr class="alert" data-rule="${h(a.rule)}" data-fingerprint="${h(a.fingerprint)}"
        data-pool="${h(a.labels?.pool ?? '')}" data-state="${h(a.state)}">
      <td>${stateBadge(a)}</td><td>${h(a.rule)}</td>
      <td><span class="sev sev-${h(a.labels?.severity ?? '')}">${h(a.labels?.severity ?? '')}</span></td>
      <td>${h(a.labels?.pool ?? '')}</td><td>${h(a.labels?.tenant ?? '')}</td>
      <td class="labels">${otherLabels(a.labels)}</td><td class="num">${h(a.value_text ?? '')}</td>
      <td>${h(time(a.active_since))}</td><td>${h(summary(a))}</td>
      ${write ? `<td><button type="button" class="silence-btn" data-i="${i}">${h(t('alerts.silence'))}</button></td>` : ''}
    </tr>`).join('')}</tbody></table>`;
}

function historyTable(list) {
  if (!list.length) return `<p class="note">${h(t('alerts.history.none'))}</p>`;
  return `<table class="list alerts-history"><thead><tr>
      <th>${h(t('alerts.col.time'))}</th><th>${h(t('alerts.col.rule'))}</th><th>${h(t('alerts.col.severity'))}</th>
      <th>${h(t('alerts.col.change'))}</th><th>${h(t('col.pool'))}</th><th>${h(t('col.tenant'))}</th>
      <th>${h(t('alerts.col.labels'))}</th><th>${h(t('alerts.col.value'))}</th></tr></thead><tbody>
    ${list.map((a) => `<tr data-rule="${h(a.rule)}" data-state="${h(a.state)}">
      <td>${h(time(a.time))}</td><td>${h(a.rule)}</td><td>${h(a.labels?.severity ?? '')}</td>
      <td>${h(t('alerts.state.' + a.from))} → <span class="badge st-${h(a.state)}">${h(t('alerts.state.' + a.state))}</span></td>
      <td>${h(a.labels?.pool ?? '')}</td><td>${h(a.labels?.tenant ?? '')}</td>
      <td class="labels">${otherLabels(a.labels)}</td><td class="num">${h(a.value_text ?? '')}</td>
    </tr>`).join('')}</tbody></table>`;
}

function matcherText(m) {
  return `${m.name}${m.isRegex ? (m.isEqual ? '=~' : '!~') : (m.isEqual ? '=' : '!=')}"${m.value}"`;
}

function silencesTable(list, write) {
  if (!list.length) return `<p class="note" data-testid="no-silences">${h(t('silences.none'))}</p>`;
  return `<table class="list silences"><thead><tr>
      <th>ID</th><th>${h(t('alerts.col.state'))}</th><th>${h(t('silences.matchers'))}</th>
      <th>${h(t('silences.ends'))}</th><th>${h(t('silences.by'))}</th><th>${h(t('silences.comment'))}</th>
      ${write ? '<th></th>' : ''}</tr></thead><tbody>
    ${list.map((s) => `<tr class="silence" data-id="${s.id}">
      <td>${s.id}</td><td><span class="badge st-s-${h(s.status.state)}">${h(t('silences.state.' + s.status.state))}</span></td>
      <td class="labels">${s.matchers.map((m) => h(matcherText(m))).join(' ')}</td>
      <td>${h(s.endsAt.replace('T', ' ').slice(0, 19))}</td><td>${h(s.createdBy)}</td><td>${h(s.comment)}</td>
      ${write ? `<td><button type="button" class="expire-btn" data-id="${s.id}">${h(t('silences.expire'))}</button></td>` : ''}
    </tr>`).join('')}</tbody></table>`;
}

// The silence form for one alert: its labels as matchers (each can be left out).
function silenceForm(a) {
  const labels = Object.entries(a.labels || {});
  return `<form class="silence-form card" data-fingerprint="${h(a.fingerprint)}">
    <h3>${h(t('silences.new'))}: ${h(a.rule)}</h3>
    <fieldset><legend>${h(t('silences.matchers'))}</legend>
      ${labels.map(([k, v]) => `<label class="matcher"><input type="checkbox" name="m" value="${h(k)}" checked>
        <code>${h(k)}="${h(v)}"</code></label>`).join('')}
    </fieldset>
    <label>${h(t('silences.duration'))}
      <select name="duration">${DURATIONS.map((d) => `<option value="${d}"${d === '2h' ? ' selected' : ''}>${h(t('dur.' + d))}</option>`).join('')}</select>
    </label>
    <label>${h(t('silences.comment'))} <input name="comment" maxlength="1024" size="40"></label>
    <button type="submit">${h(t('silences.create'))}</button>
    <button type="button" class="cancel">${h(t('silences.cancel'))}</button>
    <p class="error" role="alert"></p>
  </form>`;
}

export function stopAlerts() {
  if (timer) clearInterval(timer);
  timer = null;
}

export async function renderAlerts(el, can) {
  stopAlerts();
  const write = mayWrite(can);
  const tenant = can.who.role === 'tenant';
  const filter = { pool: '', tenant: '', severity: '' };
  let active = [], history = [], silences = [], loadError = '';

  el.innerHTML = `<h2>${h(t('nav.alerts'))}</h2>
    <div class="toolbar filters">
      ${tenant ? '' : `<label>${h(t('col.pool'))} <select data-filter="pool"></select></label>
      <label>${h(t('col.tenant'))} <select data-filter="tenant"></select></label>`}
      <label>${h(t('alerts.col.severity'))} <select data-filter="severity"></select></label>
      <button type="button" class="refresh">${h(t('alerts.refresh'))}</button>
      <span class="count"></span>
    </div>
    <p class="error load-error"></p>
    <section class="card"><h3>${h(t('alerts.active'))}</h3><div class="active"></div><div class="form-slot"></div></section>
    <section class="card"><h3>${h(t('silences.title'))}</h3><p class="msg note"></p><div class="silence-list"></div></section>
    <section class="card"><h3>${h(t('alerts.history', { n: HISTORY_DAYS }))}</h3><div class="history"></div></section>`;

  const q = (s) => el.querySelector(s);
  const live = () => el.dataset.page === 'alerts';     // still this page (main.js routes in place)

  const draw = () => {
    const shownActive = active.filter((a) => matchesFilter(a, filter));
    const shownHistory = history.filter((a) => matchesFilter(a, filter));
    for (const sel of el.querySelectorAll('select[data-filter]')) {
      const k = sel.dataset.filter;
      const vals = new Set([...active, ...history].map((a) => a.labels?.[k]).filter(Boolean));
      sel.innerHTML = options(vals, filter[k], 'alerts.all');
    }
    q('.load-error').textContent = loadError;
    q('.count').textContent = t('alerts.count', { n: shownActive.length, firing: shownActive.filter((a) => a.state === 'firing').length });
    q('.active').innerHTML = activeTable(shownActive, write);
    q('.history').innerHTML = historyTable(shownHistory);
    q('.silence-list').innerHTML = silencesTable(silences, write);
    for (const b of el.querySelectorAll('.silence-btn'))
      b.addEventListener('click', () => openForm(shownActive[Number(b.dataset.i)]));
    for (const b of el.querySelectorAll('.expire-btn'))
      b.addEventListener('click', () => expire(b.dataset.id));
  };

  const load = async () => {
    const now = Math.floor(Date.now() / 1000);
    loadError = '';
    try {
      const [a, hi, s] = await Promise.all([
        api('/api/v1/alerts'),
        api('/api/v1/alerts', { history: 1, from: now - HISTORY_DAYS * 86400, to: now, limit: 1000 }),
        api('/api/v1/silences', { limit: 1000 }),
      ]);
      active = a.alerts || [];
      history = (hi.alerts || []).slice().reverse();      // newest first
      silences = (s.silences || []).filter((x) => x.status.state !== 'expired');
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      loadError = t('error.load', { msg: e.message });
    }
    if (live()) draw();
  };

  const openForm = (a) => {
    const slot = q('.form-slot');
    slot.innerHTML = silenceForm(a);
    const form = slot.querySelector('form');
    form.querySelector('.cancel').addEventListener('click', () => { slot.innerHTML = ''; });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const names = [...form.querySelectorAll('input[name=m]:checked')].map((c) => c.value);
      const matchers = names.map((n) => ({ name: n, value: a.labels[n], isRegex: false, isEqual: true }));
      const err = form.querySelector('.error');
      if (!matchers.length) {
        err.textContent = t('silences.needmatcher');
        return;
      }
      try {
        const r = await apiSend('POST', '/api/v1/silences', {
          matchers, duration: form.elements.duration.value, comment: form.elements.comment.value,
        });
        slot.innerHTML = '';
        q('.msg').textContent = t('silences.created', { id: r.silenceID });
        await waitSilenced(a, r.silenceID);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        err.textContent = e.message;
      }
    });
  };

  // The engine marks the alert at its next pass: re-read until it shows (at most ~15 s).
  const waitSilenced = async (a, id) => {
    for (let i = 0; i < 30 && live(); i++) {
      await load();
      const now = active.find((x) => x.fingerprint === a.fingerprint && x.rule === a.rule);
      if (!now || (now.silenced_by || []).includes(id) || now.state !== 'firing') return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const expire = async (id) => {
    try {
      await apiSend('DELETE', '/api/v1/silence/' + encodeURIComponent(id));
      q('.msg').textContent = t('silences.expired', { id });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      q('.msg').textContent = e.message;
    }
    await load();
  };

  el.addEventListener('change', (e) => {
    const k = e.target.dataset?.filter;
    if (k) {
      filter[k] = e.target.value;
      draw();
    }
  });
  q('.refresh').addEventListener('click', load);
  await load();
  // Re-read now and then, but not under an open form (it would be redrawn away).
  timer = setInterval(() => {
    if (!live()) stopAlerts();
    else if (!el.querySelector('.silence-form')) load();
  }, REFRESH_MS);
}
