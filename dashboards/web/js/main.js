// main.js - log in, find out what the token may see, route by the URL's hash:
//   #/overview  #/alerts  #/recommendations  #/reports  #/hosts  #/vms  #/host/NAME[/RANGE]  #/vm/NAME[/RANGE]

import { renderAlerts, stopAlerts } from './alerts.js';
import { clearToken, session, setToken, token, ApiError } from './api.js';
import { renderDetail } from './detail.js';
import { applyI18n, getLang, setLang, t } from './i18n.js';
import { renderOverview } from './overview.js';
import { renderRecommendations } from './recommendations.js';
import { renderReports } from './reports.js';
import { renderHosts, renderVms } from './tables.js';

const $ = (s) => document.querySelector(s);
let can = null;          // the token and what it may read: {who, pools, hosts, inventory} (data or null)

async function login(tok) {
  setToken(tok);
  try {
    can = await session();
  } catch (e) {
    clearToken();
    can = null;
    $('#login-error').textContent = e instanceof ApiError && e.status === 401
      ? t('login.bad') : t('login.error', { msg: e.message });
    return false;
  }
  $('#login').hidden = true;
  $('#app').hidden = false;
  // A tenant token reads neither pools nor hosts: its own VMs are its overview.
  $('#nav-hosts').hidden = !can.hosts;
  $('#nav-alerts').hidden = !(can.who.actions || []).includes('read_alerts');
  $('#nav-recs').hidden = !(can.who.actions || []).includes('read_recommendations');
  $('#nav-reports').hidden = !(can.who.actions || []).includes('read_reports');
  showWho();
  route();
  return true;
}

// A tenant token's unit, from /api/v1/whoami (also when it owns no VM yet).
function showWho() {
  $('#who').textContent = can.who.role === 'tenant' ? t('role.tenant', { tenant: can.who.tenant }) : '';
}

function logout() {
  stopAlerts();
  clearToken();
  can = null;
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#token').value = '';
  $('#main').textContent = '';
  $('#main').dataset.ready = '0';     // nothing rendered for the next login yet
  delete $('#main').dataset.route;
}

let routeGen = 0;            // the latest route() call; an older one finishing late marks nothing

async function route() {
  if (!can) return;
  const gen = ++routeGen, hash = location.hash;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = parts[0] || 'overview';
  const main = $('#main');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.dataset.page === page);
  main.dataset.page = page;
  main.dataset.ready = '0';
  stopAlerts();             // the alerts page's refresh timer, if it was open
  if (page === 'host' || page === 'vm') await renderDetail(main, page, parts[1] || '', parts[2]);
  else if (page === 'hosts') await renderHosts(main, can);
  else if (page === 'alerts') await renderAlerts(main, can);
  else if (page === 'recommendations') await renderRecommendations(main);
  else if (page === 'reports') await renderReports(main, can);
  else if (page === 'vms') await renderVms(main, can);
  else {
    const shown = await renderOverview(main, can);
    if (!shown) {          // no pools for this token: its VMs instead
      const more = document.createElement('div');
      main.appendChild(more);
      await renderVms(more, can);
    }
  }
  if (gen !== routeGen) return;
  // For the browser test: the page finished loading, and which route it shows.
  main.dataset.route = hash;
  main.dataset.ready = '1';
}

document.addEventListener('DOMContentLoaded', () => {
  applyI18n(document);
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    $('#login-error').textContent = '';
    login($('#token').value.trim());
  });
  $('#logout').addEventListener('click', logout);
  $('#lang').addEventListener('click', () => {
    setLang(getLang() === 'zh' ? 'en' : 'zh');
    if (can) {
      showWho();
      route();
    }
  });
  window.addEventListener('hashchange', route);
  if (token()) login(token());
});
