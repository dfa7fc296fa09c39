// dashboard.test.mjs - the web dashboard in a real browser (Debian's chromium,
// driven by playwright-core from dashboards/web/node_modules).
//
// Seeds a data directory (poolwatch import of a Prometheus text file with
// two hypervisor hosts, three VMs and their usage; an inventory; tokens),
// starts a collector on free loopback ports, then: logs in as admin, reads the
// pool bars and checks them against figures worked out by hand and against
// /api/v1/pools, opens the hosts table and a host's charts, changes the range,
// opens a VM's charts, switches the language (CJK text rendered), logs in as a
// tenant and checks it sees only its own VM and no pools. The Reports tab:
// the seeded month made as XLSX (a download that is a ZIP), as JSON and as
// HTML in a new tab, an API error shown, the archive the collector made at
// start downloaded and checked against its SHA-256; a tenant sees its own
// unit only. Screenshots go to tests/out/browser/.
//
// Run by meson (integration suite) with PW_BUILD and PW_SOURCE set; exits 77
// (meson's "skipped") with a message when chromium or playwright-core is not
// installed.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

import { BUILD, CHROMIUM, CLI, FIXTURES, OUT, SLOW, chromiumOrSkip, skip } from './env.mjs';

const COLLECTOR = path.join(BUILD, 'collector/poolwatch-collector');
const AGENT = path.join(BUILD, 'agent/poolwatch-agent');
const BASIC = path.join(FIXTURES, 'basic');
const WEB = path.join(BUILD, 'dashboards/web');
const GiB = 2 ** 30, TiB = 2 ** 40;

const chromium = chromiumOrSkip();
if (!fs.existsSync(path.join(WEB, 'index.html'))) skip(`no built dashboard in ${WEB}: npm ci --prefix dashboards/web, then ninja`);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitUntil(cond, seconds, what) {
  const end = Date.now() + seconds * 1000 * SLOW;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds * SLOW}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pwbrowser-'));
const data = path.join(tmp, 'data');
const cli = (...args) => execFileSync(CLI, ['--data', data, ...args], { encoding: 'utf8', timeout: 60000 * SLOW, stdio: ['ignore', 'pipe', 'pipe'] });

// ---- the data set -------------------------------------------------------------------------
// Two hosts of 32 threads, 256 GiB, 10 TiB storage (3 TiB used), one 10 Gbit/s NIC each;
// three VMs: 16 + 32 + 24 = 72 vCPUs, 64 + 192 + 128 = 384 GiB, 1 + 2 + 1 TiB of disks.
// Pool pool-a (cpu overcommit 2): cpu allocated 72 / (64 x 2) = 56.3 %, used 16 / 64 = 25.0 %;
// memory allocated 384 / 512 = 75.0 %, used 50.0 %; storage allocated 4 / 20 = 20.0 %, used 30.0 %.
const HOSTS = ['hv1', 'hv2'];
const VMS = [
  { name: 'web-01', uuid: '0a000000-0000-4000-8000-000000000001', host: 'hv1', vcpus: 16, mem: 64, disk: 1, tenant: '甲单位', system: '门户网站' },
  { name: 'db-01', uuid: '0a000000-0000-4000-8000-000000000002', host: 'hv1', vcpus: 32, mem: 192, disk: 2, tenant: '乙单位', system: '数据中心' },
  { name: 'app-01', uuid: '0a000000-0000-4000-8000-000000000003', host: 'hv2', vcpus: 24, mem: 128, disk: 1, tenant: '乙单位', system: '审批系统' },
];

function seed() {
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  // 2 h back and 30 min ahead every 30 s: "now" stays covered while the test runs.
  for (let ts = now - 7200, i = 0; ts <= now + 1800; ts += 30, i++) {
    const ms = ts * 1000, el = i * 30;
    for (const h of HOSTS) {
      lines.push(`poolwatch_host_cpu_threads{host="${h}"} 32 ${ms}`,
        `poolwatch_node_cpus{host="${h}"} 32 ${ms}`,
        `poolwatch_host_memory_bytes{host="${h}"} ${256 * GiB} ${ms}`,
        `node_memory_MemTotal_bytes{host="${h}"} ${256 * GiB} ${ms}`,
        `node_memory_MemAvailable_bytes{host="${h}"} ${128 * GiB} ${ms}`,
        `poolwatch_host_storage_pool_capacity_bytes{host="${h}",pool="default"} ${10 * TiB} ${ms}`,
        `poolwatch_host_storage_pool_allocation_bytes{host="${h}",pool="default"} ${3 * TiB} ${ms}`,
        `poolwatch_host_nic_speed_bytes{host="${h}",device="eno1"} 1250000000 ${ms}`,
        `poolwatch_node_cpu_seconds_total{host="${h}",mode="user"} ${8 * el} ${ms}`,
        `poolwatch_node_cpu_seconds_total{host="${h}",mode="idle"} ${24 * el} ${ms}`,
        `node_network_receive_bytes_total{host="${h}",device="eno1"} ${100000000 * el} ${ms}`,
        `node_network_transmit_bytes_total{host="${h}",device="eno1"} ${25000000 * el} ${ms}`,
        `node_disk_read_bytes_total{host="${h}",device="sda"} ${5000000 * el} ${ms}`,
        `node_disk_written_bytes_total{host="${h}",device="sda"} ${2000000 * el} ${ms}`);
    }
    for (const v of VMS) {
      const l = `host="${v.host}",vm="${v.uuid}",vm_name="${v.name}"`;
      // Usage series carry the owner's tenant label: what a tenant token may read.
      const u = `${l},tenant="${v.tenant}"`;
      lines.push(`poolwatch_vm_info{${l}} 1 ${ms}`, `poolwatch_vm_state{${l}} 1 ${ms}`,
        `poolwatch_vm_vcpus{${l}} ${v.vcpus} ${ms}`,
        `poolwatch_vm_memory_max_bytes{${l}} ${v.mem * GiB} ${ms}`,
        `poolwatch_vm_disk_capacity_bytes{${l},device="vda"} ${v.disk * TiB} ${ms}`,
        `poolwatch_vm_cpu_seconds_total{${u}} ${(v.vcpus / 4) * el} ${ms}`,
        `poolwatch_vm_balloon_available_bytes{${u}} ${v.mem * GiB} ${ms}`,
        `poolwatch_vm_balloon_unused_bytes{${u}} ${(v.mem / 2) * GiB} ${ms}`,
        `poolwatch_vm_network_receive_bytes_total{${u},device="vnet0"} ${1000000 * el} ${ms}`,
        `poolwatch_vm_network_transmit_bytes_total{${u},device="vnet0"} ${500000 * el} ${ms}`,
        `poolwatch_vm_disk_read_bytes_total{${u},device="vda"} ${300000 * el} ${ms}`,
        `poolwatch_vm_disk_written_bytes_total{${u},device="vda"} ${100000 * el} ${ms}`);
    }
  }
  fs.writeFileSync(path.join(tmp, 'seed.prom'), lines.join('\n') + '\n');
  fs.mkdirSync(data);
  cli('import', path.join(tmp, 'seed.prom'));
  const csv = ['使用单位,系统名称,虚拟机名称,vCPU(核),内存(GB),系统盘(GB),数据盘(GB),UUID,资源池,宿主机,确认开通日期']
    .concat(VMS.map((v) => [v.tenant, v.system, v.name, v.vcpus, v.mem, 100, v.disk * 1024 - 100, v.uuid, 'pool-a', v.host, '2026-01-01'].join(',')));
  fs.writeFileSync(path.join(tmp, 'inventory.csv'), csv.join('\r\n') + '\r\n');
  cli('inventory', 'import', path.join(tmp, 'inventory.csv'));
  // Memory allocated is 75 %: PoolCapacityWarning fires at once (for: 0) - the Alerts page's alert.
  fs.writeFileSync(path.join(tmp, 'collector.yaml'),
    'pools:\n  - name: pool-a\n    hosts: [hv1, hv2]\n    cpu_overcommit: 2\n'
    + 'alerts:\n  rules:\n    - {name: PoolCapacityWarning, for: 0}\n');
  return {
    admin: cli('token', 'create', '--role', 'admin', '--name', 'browser-admin').trim(),
    tenant: cli('token', 'create', '--role', 'tenant', '--tenant', '甲单位', '--name', 'browser-tenant').trim(),
  };
}

// ---- run ----------------------------------------------------------------------------------
let coll = null, agent = null, browser = null, failed = false;
const pageLog = [];      // the page's console and failed requests, shown when the test fails
try {
  fs.mkdirSync(OUT, { recursive: true });
  const tokens = seed();
  const [agentPort, httpPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const logPath = path.join(tmp, 'collector.log');
  coll = spawn(COLLECTOR, ['--listen', `tcp://127.0.0.1:${agentPort}`, '--data', data,
    '--http', `127.0.0.1:${httpPort}`, '--capacity-interval', '500ms', '--alert-interval', '500ms', '--config',
    path.join(tmp, 'collector.yaml'), '--web-dir', WEB],
  { stdio: ['ignore', fs.openSync(logPath, 'a'), fs.openSync(logPath, 'a')] });
  // One real agent (a node outside the pool, from the fixture tree): the hosts table lists agents.
  agent = spawn(AGENT, ['--collector', `tcp://127.0.0.1:${agentPort}`, '--interval', '1s',
    '--spool', path.join(tmp, 'spool'), '--agent-id', 'node-9', '--hostname', 'node-9',
    '--proc-root', path.join(BASIC, 'proc'), '--sys-root', path.join(BASIC, 'sys')],
  { stdio: ['ignore', fs.openSync(path.join(tmp, 'agent.log'), 'a'), fs.openSync(path.join(tmp, 'agent.log'), 'a')] });
  const api = async (p, tok = tokens.admin) => {
    const r = await fetch(base + p, { headers: { Authorization: 'Bearer ' + tok } });
    return r.ok ? (await r.json()).data : null;
  };
  // The capacity thread's first pass: the pool's figures exist.
  const pools = await waitUntil(async () => {
    try {
      const d = await api('/api/v1/pools');
      const p = d && d.pools.find((x) => x.pool === 'pool-a');
      return p && p.resources.every((r) => r.resource === 'network' || r.used_ratio !== null) ? d : null;
    } catch (e) { return null; }
  }, 30, 'pool-a figures from /api/v1/pools');
  await waitUntil(async () => { try { return (await api('/api/v1/hosts')).length > 0; } catch (e) { return false; } },
    30, 'the agent in /api/v1/hosts');
  const apiPool = pools.pools.find((x) => x.pool === 'pool-a');
  const res = (name) => apiPool.resources.find((r) => r.resource === name);
  // The API agrees with the hand-worked figures (the page must show them).
  assert.equal(apiPool.allocation_source, 'domains');
  assert.equal(res('cpu').allocated_ratio, 72 / 128);
  // Used CPU is a rate over a window of counters: equal up to rounding (0.24999999999999994).
  const near = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a}, expected ${b}`);
  near(res('cpu').used_ratio, 0.25, 'cpu used');
  assert.equal(res('memory').allocated_ratio, 0.75);
  near(res('memory').used_ratio, 0.5, 'memory used');
  assert.equal(res('storage').allocated_ratio, 0.2);
  near(res('storage').used_ratio, 0.3, 'storage used');

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--lang=zh-CN'] });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'zh-CN', acceptDownloads: true });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Refused calls (the wrong token's 401, a tenant's 403s, no alerts API yet) are the
  // browser's network log, not script errors.
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  page.on('console', (m) => pageLog.push(`console ${m.type()}: ${m.text()}`));
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) pageLog.push('navigated: ' + f.url()); });
  page.on('response', (r) => { if (r.status() >= 400) pageLog.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  page.on('requestfailed', (r) => pageLog.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  // The page finished rendering the route now in the address bar (not the one before it).
  const ready = () => page.waitForFunction(() => {
    const m = document.querySelector('#main');
    return m && m.dataset.ready === '1' && m.dataset.route === location.hash;
  }, null, { timeout: 30000 * SLOW });
  // A click that starts a download: the file's name and bytes (playwright's download event).
  const download = async (selector) => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60000 * SLOW }), page.click(selector)]);
    const failure = await dl.failure();
    assert.equal(failure, null, 'download ' + dl.suggestedFilename());
    return { name: dl.suggestedFilename(), data: fs.readFileSync(await dl.path()) };
  };
  // A click that opens the HTML report in a new tab: the tab, once the report is in it.
  const htmlTab = async (selector) => {
    const [tab] = await Promise.all([page.waitForEvent('popup'), page.click(selector)]);
    await tab.waitForURL(/^blob:/, { timeout: 60000 * SLOW });
    await tab.waitForLoadState('load');
    return tab;
  };

  // Login: a wrong token is refused with a message; the admin token gets in.
  await page.goto(base + '/');
  await page.fill('#token', 'pwt_0000000000000000_nonsense');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:not(:empty)');
  assert.match(await page.textContent('#login-error'), /令牌无效/);
  await page.fill('#token', tokens.admin);
  await page.click('#login-form button[type=submit]');
  await ready();
  // Pool bars with the right numbers, in Chinese first.
  const ratio = (r, k) => page.textContent(`.res[data-pool="pool-a"][data-resource="${r}"] .kind[data-kind="${k}"] .val`);
  const want = { cpu: ['56.3 %', '25.0 %'], memory: ['75.0 %', '50.0 %'], storage: ['20.0 %', '30.0 %'] };
  for (const [r, [a, u]] of Object.entries(want)) {
    assert.equal(await ratio(r, 'allocated'), a, `${r} allocated`);
    assert.equal(await ratio(r, 'used'), u, `${r} used`);
  }
  // Every bar's text equals /api/v1/pools' figure (network included).
  for (const r of apiPool.resources)
    for (const k of r.resource === 'network' ? ['used'] : ['allocated', 'used'])
      assert.equal(await ratio(r.resource, k), (r[k + '_ratio'] * 100).toFixed(1) + ' %', `${r.resource} ${k}`);
  // Memory allocated is over 70 %: its bar is marked.
  assert.equal(await page.getAttribute('.res[data-resource="memory"] .kind[data-kind="allocated"] .fill', 'class'), 'fill warn');
  assert.match(await page.textContent('.res[data-resource="memory"] .kind[data-kind="allocated"] .days'), /距 70%: 已达到/);
  assert.match(await page.textContent('.pool h3'), /pool-a/);
  await page.waitForSelector('.trend .uplot, .trend .empty');
  await page.screenshot({ path: path.join(OUT, 'overview-zh.png'), fullPage: true });

  // Alerts: the pool's memory alert is firing; silence it from the page.
  const memAlert = (a) => a.rule === 'PoolCapacityWarning' && a.labels.pool === 'pool-a' && a.labels.resource === 'memory';
  await waitUntil(async () => {
    const d = await api('/api/v1/alerts');
    return d && d.alerts.some((a) => memAlert(a) && a.state === 'firing');
  }, 30, 'PoolCapacityWarning firing for pool-a memory');
  await page.click('#nav-alerts');
  await ready();
  const row = 'tr.alert[data-rule="PoolCapacityWarning"][data-pool="pool-a"]';
  await page.waitForSelector(row);
  assert.equal(await page.getAttribute(`${row} .badge`, 'data-state'), 'firing');
  assert.match(await page.textContent(`${row} .labels`), /resource=memory/);
  // Filters by pool and severity keep it.
  await page.selectOption('select[data-filter="pool"]', 'pool-a');
  await page.selectOption('select[data-filter="severity"]', 'warning');
  await page.waitForSelector(row);
  assert.equal(await page.$$eval('tr.alert', (els) => els.every((e) => e.dataset.pool === 'pool-a')), true);
  await page.screenshot({ path: path.join(OUT, 'alerts-zh.png'), fullPage: true });
  await page.click(`${row} .silence-btn`);
  await page.waitForSelector('.silence-form');
  assert.equal(await page.isChecked('.silence-form input[name=m][value="pool"]'), true);
  await page.selectOption('.silence-form select[name=duration]', '4h');
  await page.fill('.silence-form input[name=comment]', '扩容前维护');
  await page.screenshot({ path: path.join(OUT, 'alerts-silence-form.png'), fullPage: true });
  await page.click('.silence-form button[type=submit]');
  // The engine marks it at its next pass; the page re-reads until then.
  await page.waitForSelector(`${row} .badge[data-state="silenced"]`, { timeout: 20000 * SLOW });
  await page.waitForSelector('tr.silence');
  assert.match(await page.textContent('tr.silence'), /pool="pool-a"/);
  assert.match(await page.textContent('tr.silence'), /browser-admin/);
  assert.match(await page.textContent('tr.silence'), /扩容前维护/);
  const sils = (await api('/api/v1/silences')).silences;
  assert.equal(sils.length, 1);
  assert.equal(sils[0].createdBy, 'browser-admin');
  assert.ok(sils[0].matchers.some((m) => m.name === 'pool' && m.value === 'pool-a' && m.isEqual && !m.isRegex));
  assert.ok(Math.abs(Date.parse(sils[0].endsAt) - Date.parse(sils[0].startsAt) - 4 * 3600000) < 1000, 'four hours');
  assert.ok((await api('/api/v1/alerts')).alerts.find(memAlert).silenced_by.includes(sils[0].id));
  await page.screenshot({ path: path.join(OUT, 'alerts-silenced.png'), fullPage: true });
  // The overview counts it, silenced.
  await page.click('nav a[data-page="overview"]');
  await ready();
  await page.waitForSelector('[data-testid="alerts"]');
  assert.ok(Number(await page.textContent('[data-testid="alerts"]')) >= 1);
  assert.match(await page.textContent('p.alerts'), /已静默 1/);
  // Expire it from the page.
  await page.click('#nav-alerts');
  await ready();
  await page.click('tr.silence .expire-btn');
  await page.waitForSelector('[data-testid="no-silences"]');
  assert.equal((await api('/api/v1/silences')).silences[0].status.state, 'expired');
  // Recommendations: the page loads (two hours of data: no findings yet).
  await page.click('#nav-recs');
  await ready();
  await page.waitForSelector('.recs');
  await page.screenshot({ path: path.join(OUT, 'recommendations.png'), fullPage: true });

  // Reports: the tab with the previous month as default; the seeded month (the report zone,
  // Asia/Shanghai, is UTC+8) as XLSX - a ZIP - with the progress state while it is made, as
  // JSON and as HTML in a new tab for one unit; an API error in the page; the archive.
  const seedMonth = new Date(Date.now() + 8 * 3600000).toISOString().slice(0, 7);
  const prev = new Date();
  prev.setDate(1);
  prev.setMonth(prev.getMonth() - 1);
  const prevMonth = `${prev.getFullYear()}-${String(prev.getMonth() + 1).padStart(2, '0')}`;
  // The collector archives the previous month at start, once it has been over for an hour
  // (report_job.c); in the first two hours of a month (UTC+8) it may not have yet.
  const sh = new Date(Date.now() + 8 * 3600000);
  const archived = !(sh.getUTCDate() === 1 && sh.getUTCHours() < 2);
  const archiveMonth = (() => { const d = new Date(Date.UTC(sh.getUTCFullYear(), sh.getUTCMonth() - 1, 1)); return d.toISOString().slice(0, 7); })();
  if (archived)
    await waitUntil(async () => { try { return (await api('/api/v1/reports')).length >= 12; } catch (e) { return false; } },
      120, `the archive of ${archiveMonth} (the collector's archive job)`);
  await page.click('#nav-reports');
  await ready();
  assert.equal(await page.inputValue('.report-form input[name=month]'), prevMonth);
  assert.equal(await page.inputValue('.report-form select[name=kind]'), 'monthly');
  assert.deepEqual((await page.$$eval('.report-form select[name=tenant] option', (os) => os.map((o) => o.value))).sort(),
    ['', '乙单位', '甲单位'].sort());
  // The period pickers follow the kind: a quarter of the previous month's year.
  await page.selectOption('.report-form select[name=kind]', 'quarterly');
  assert.ok(await page.isVisible('.report-form select[name=quarter]'));
  assert.equal(await page.isVisible('.report-form input[name=month]'), false);
  assert.equal(await page.inputValue('.report-form input[name=qyear]'), String(prev.getFullYear()));
  await page.selectOption('.report-form select[name=kind]', 'monthly');
  await page.fill('.report-form input[name=month]', seedMonth);
  // XLSX for the whole cloud. While the collector makes it (the request held by the route),
  // the form is busy, the buttons disabled and the progress line shown.
  let during = null;
  const reportRoute = '**/api/v1/reports/monthly?*';
  await page.route(reportRoute, async (r) => {
    during = await page.evaluate(() => ({
      busy: document.querySelector('.report-form').dataset.busy,
      disabled: [...document.querySelectorAll('button.gen')].every((b) => b.disabled),
      status: document.querySelector('.report-gen .status').textContent,
    }));
    await r.continue();
  });
  const xlsx = await download('button.gen[data-format="xlsx"]');
  await page.unroute(reportRoute);
  assert.equal(during.busy, '1');
  assert.ok(during.disabled, 'buttons disabled while the report is made');
  assert.match(during.status, /正在生成/);
  assert.equal(xlsx.name, `poolwatch-monthly-${seedMonth}.xlsx`);
  assert.ok(xlsx.data.length > 0);
  assert.equal(xlsx.data.subarray(0, 2).toString('latin1'), 'PK', 'an XLSX is a ZIP');
  await page.waitForSelector('.report-form[data-busy="0"]');
  assert.match(await page.textContent('.report-gen .status'), new RegExp(`poolwatch-monthly-${seedMonth}\\.xlsx`));
  // One unit: JSON (the report's own JSON), then HTML in a new tab naming the unit and its VMs only.
  await page.selectOption('.report-form select[name=tenant]', '乙单位');
  const json = await download('button.gen[data-format="json"]');
  assert.equal(json.name, `poolwatch-monthly-${seedMonth}-乙单位.json`);
  const rep = JSON.parse(json.data.toString('utf8'));
  assert.equal(rep.report.tenant, '乙单位');
  assert.deepEqual(rep.utilization.map((r) => r.name).sort(), ['app-01', 'db-01']);
  assert.ok(rep.utilization.every((r) => r.tenant === '乙单位'));
  const tab = await htmlTab('button.gen[data-format="html"]');
  const tabText = await tab.textContent('body');
  assert.ok(tabText.includes('乙单位'), 'the unit in the HTML report');
  assert.ok(tabText.includes('app-01') && tabText.includes('db-01') && !tabText.includes('web-01'), 'its VMs only');
  await tab.screenshot({ path: path.join(OUT, 'reports-html-unit.png'), fullPage: true });
  await tab.close();
  // A period the API refuses: its message in the page.
  await page.selectOption('.report-form select[name=kind]', 'annual');
  await page.fill('.report-form input[name=year]', '1999');
  await page.click('button.gen[data-format="csv"]');
  await page.waitForSelector('.gen-error:not(:empty)');
  assert.match(await page.textContent('.gen-error'), /生成失败.*year/);
  await page.selectOption('.report-form select[name=kind]', 'monthly');
  // The archive: every file of the month listed; the whole cloud's XLSX downloaded, checked
  // against the listing's size and SHA-256.
  if (archived) {
    const rows = await page.$$eval('tr.archived', (els) => els.map((e) => ({ ...e.dataset })));
    assert.equal(rows.length, 12);
    assert.deepEqual([...new Set(rows.map((r) => r.unit))].sort(), ['', '乙单位', '甲单位'].sort());
    assert.deepEqual([...new Set(rows.map((r) => r.format))].sort(), ['csv', 'html', 'json', 'xlsx']);
    const file = `poolwatch-monthly-${archiveMonth}.xlsx`;
    const listed = (await api('/api/v1/reports')).find((a) => a.file === file);
    const got = await download(`tr.archived[data-file="${file}"] button.archive-dl`);
    assert.equal(got.name, file);
    assert.equal(got.data.length, listed.size);
    assert.equal(createHash('sha256').update(got.data).digest('hex'), listed.sha256);
    assert.equal(got.data.subarray(0, 2).toString('latin1'), 'PK');
  } else {
    console.log(`note: ${archiveMonth} not archived yet (first hours of the month): archive not checked`);
  }
  await page.screenshot({ path: path.join(OUT, 'reports.png'), fullPage: true });

  // Hosts table, then a host's charts.
  await page.click('#nav-hosts');
  await ready();
  await page.waitForSelector('.tabulator-row');
  const hostCells = await page.$$eval('.tabulator-row .tabulator-cell[tabulator-field="host"]', (els) => els.map((e) => e.textContent));
  // Agents, not imported history. Only "includes": on a shared machine another test's agent,
  // still retrying a port this collector now has, can show up too.
  assert.ok(hostCells.includes('node-9'), JSON.stringify(hostCells));
  assert.ok(!hostCells.includes('hv1') && !hostCells.includes('hv2'), JSON.stringify(hostCells));
  await page.click('.tabulator-row .tabulator-cell[tabulator-field="host"]:text-is("node-9")');
  await page.waitForFunction(() => location.hash === '#/host/node-9');
  await ready();
  await page.waitForSelector('.chart[data-chart="memory"] .uplot');
  await page.goto(base + '/#/host/hv1/6h');
  await ready();
  await page.waitForSelector('.chart[data-chart="cpu"] .uplot');
  for (const c of ['cpu', 'memory', 'disk', 'network'])
    assert.ok(Number(await page.getAttribute(`.chart[data-chart="${c}"]`, 'data-points')) > 0, `host ${c} chart has points`);
  assert.equal(await page.getAttribute('#main', 'data-step'), '60');
  await page.screenshot({ path: path.join(OUT, 'host-6h.png'), fullPage: true });
  // Change the range: 30 days reads with a 3-hour step.
  await page.click('.ranges button[data-range="30d"]');
  await page.waitForFunction(() => location.hash.endsWith('/30d'));
  await ready();
  assert.equal(await page.getAttribute('#main', 'data-step'), '10800');
  assert.equal(await page.getAttribute('.ranges button.on', 'data-range'), '30d');
  await page.waitForSelector('.chart[data-chart="memory"] .uplot');

  // VMs table: every VM, searchable; a click opens its charts.
  await page.click('nav a[data-page="vms"]');
  await ready();
  await page.waitForSelector('.tabulator-row');
  const names = async () => (await page.$$eval('.tabulator-row .tabulator-cell[tabulator-field="name"]', (els) => els.map((e) => e.textContent))).sort();
  assert.deepEqual(await names(), ['app-01', 'db-01', 'web-01']);
  await page.fill('.search', '审批');
  await waitUntil(async () => (await names()).length === 1, 10, 'the search to filter');
  assert.deepEqual(await names(), ['app-01']);
  await page.screenshot({ path: path.join(OUT, 'vms-search.png'), fullPage: true });
  await page.click('.tabulator-row .tabulator-cell[tabulator-field="name"]');
  await page.waitForFunction(() => location.hash === '#/vm/app-01');
  await ready();
  await page.waitForSelector('.chart[data-chart="cpu"] .uplot');
  for (const c of ['cpu', 'memory', 'disk', 'network'])
    assert.ok(Number(await page.getAttribute(`.chart[data-chart="${c}"]`, 'data-points')) > 0, `vm ${c} chart has points`);
  await page.screenshot({ path: path.join(OUT, 'vm-app-01.png'), fullPage: true });

  // Language switch: English labels; back to Chinese, the CJK glyphs render with a real font.
  await page.click('#lang');
  await ready();
  assert.equal(await page.textContent('nav a[data-page="vms"]'), 'VMs');
  assert.match(await page.textContent('#main h2'), /^VM app-01$/);
  await page.click('nav a[data-page="overview"]');
  await ready();
  assert.match(await ratio('memory', 'allocated'), /75\.0 %/);
  assert.match(await page.textContent('.res[data-resource="memory"] .res-name b'), /Memory/);
  await page.screenshot({ path: path.join(OUT, 'overview-en.png'), fullPage: true });
  await page.click('#lang');
  await ready();
  assert.equal(await page.textContent('nav a[data-page="overview"]'), '总览');
  // A CJK string is as wide as its glyphs: a missing font would render tofu boxes of one width.
  const widths = await page.evaluate(() => {
    const c = document.createElement('canvas').getContext('2d');
    c.font = getComputedStyle(document.body).fontSize + ' ' + getComputedStyle(document.documentElement).fontFamily;
    return [c.measureText('资源池').width, c.measureText('口口口').width, document.fonts.check('14px "Noto Sans CJK SC"')];
  });
  assert.ok(widths[0] > 0, 'CJK text has width');
  assert.ok(widths[2], 'Noto Sans CJK SC is available to the page (fonts-noto-cjk)');

  // Tenant: no pools, no hosts tab; only its own VM, and that VM's charts.
  await page.click('#logout');
  await page.fill('#token', tokens.tenant);
  await page.click('#login-form button[type=submit]');
  await ready();
  assert.match(await page.textContent('#main'), /无权查看全局资源池/);
  assert.equal(await page.isVisible('#nav-hosts'), false);
  assert.match(await page.textContent('#who'), /甲单位/);
  await page.waitForSelector('.tabulator-row');
  assert.deepEqual(await names(), ['web-01']);
  await page.screenshot({ path: path.join(OUT, 'tenant-overview.png'), fullPage: true });
  await page.click('nav a[data-page="vms"]');
  await ready();
  await page.waitForSelector('.tabulator-row');
  assert.deepEqual(await names(), ['web-01']);
  await page.goto(base + '/#/vm/web-01');
  await ready();
  await page.waitForSelector('.chart[data-chart="network"] .uplot');
  assert.ok(Number(await page.getAttribute('.chart[data-chart="network"]', 'data-points')) > 0);
  // Another tenant's VM: nothing to see.
  await page.goto(base + '/#/vm/db-01');
  await ready();
  assert.equal(await page.$$eval('.chart', (els) => els.map((e) => Number(e.dataset.points)).reduce((a, b) => a + b, 0)), 0);
  await page.screenshot({ path: path.join(OUT, 'tenant-other-vm.png'), fullPage: true });
  // Alerts as a tenant: no pool alerts, no silence buttons, no pool filter, no silences of others.
  await page.click('#nav-alerts');
  await ready();
  await page.waitForSelector('[data-testid="no-active"]');
  assert.equal(await page.$$eval('tr.alert[data-pool="pool-a"]', (els) => els.length), 0);
  assert.equal(await page.$$eval('.silence-btn, .expire-btn', (els) => els.length), 0);
  assert.equal(await page.$$eval('select[data-filter="pool"]', (els) => els.length), 0);
  await page.waitForSelector('[data-testid="no-silences"]');
  await page.screenshot({ path: path.join(OUT, 'tenant-alerts.png'), fullPage: true });
  // Reports as a tenant: its own unit fixed (no unit picker), its own archived files only,
  // and its HTML report naming it and its VM only.
  await page.click('#nav-reports');
  await ready();
  assert.equal(await page.$$eval('.report-form select[name=tenant]', (els) => els.length), 0);
  assert.match(await page.textContent('.report-form .unit-fixed'), /甲单位/);
  if (archived) {
    const units = await page.$$eval('tr.archived', (els) => els.map((e) => e.dataset.unit));
    assert.deepEqual(units, ['甲单位', '甲单位', '甲单位', '甲单位']);
  }
  await page.fill('.report-form input[name=month]', seedMonth);
  const ttab = await htmlTab('button.gen[data-format="html"]');
  const ttext = await ttab.textContent('body');
  assert.ok(ttext.includes('甲单位') && ttext.includes('web-01'), 'its own unit and VM');
  assert.ok(!ttext.includes('乙单位') && !ttext.includes('db-01'), 'no other unit');
  await ttab.close();
  await page.screenshot({ path: path.join(OUT, 'tenant-reports.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no script errors in the page');
  console.log('ok: login, pool gauges, alerts and a silence made from the page, reports (XLSX, JSON, HTML, archive), hosts, host and VM charts, range, language, tenant scope; screenshots in ' + OUT);
} catch (e) {
  failed = true;
  console.error(e);
  console.error('the page, last 40 events:\n' + pageLog.slice(-40).join('\n'));
  try { console.error(fs.readFileSync(path.join(tmp, 'collector.log'), 'utf8').slice(-3000)); } catch (e2) { /* none */ }
} finally {
  if (browser) await browser.close();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  if (coll && coll.exitCode === null) {
    coll.kill('SIGTERM');
    await new Promise((r) => coll.once('exit', r));
    if (coll.exitCode !== 0 && !failed) { console.error('collector exited ' + coll.exitCode); failed = true; }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
