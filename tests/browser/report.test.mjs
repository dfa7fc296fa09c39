// report.test.mjs - the HTML utilization report in a real browser (Debian's
// chromium, driven by playwright-core from dashboards/web/node_modules).
//
// Makes the reports' fixture month (tests/fixtures/reports/fixture.py, the
// data test_reports.py checks cell by cell), writes November 2026's report
// as HTML with `poolwatch report monthly --format html`, opens the file in
// chromium and checks: the Chinese title, part names and unit names are in
// the page; Noto Sans CJK is the font and CJK strings are as wide as their
// glyphs (no tofu boxes); the charts are there; and a screenshot of the page
// and of its title, read back pixel by pixel in the browser, is not blank.
// Screenshots go to tests/out/browser/report-*.png.
//
// Run by meson (integration suite, integration/browser-report) with PW_BUILD
// and PW_FIXTURES set; exits 77 (meson's "skipped") with a message when
// chromium or playwright-core is missing or chromium cannot be launched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

import { CHROMIUM, CLI, FIXTURES, OUT, SLOW, chromiumOrSkip, skip } from './env.mjs';

const FIXTURE = path.join(FIXTURES, 'reports');

const chromium = chromiumOrSkip();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pwreport-browser-'));
const data = path.join(tmp, 'data');
const cli = (...args) => execFileSync(CLI, ['--data', data, ...args],
  { encoding: 'utf8', timeout: 120000 * SLOW, stdio: ['ignore', 'pipe', 'pipe'] });

// The fixture month: series from 2026-10-31T23:00Z to 2026-12-01, the inventory, vm-c's resize.
execFileSync('python3', ['-c', 'import sys, fixture; fixture.write(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))',
  tmp, String(Date.UTC(2026, 9, 31, 23)), String(Date.UTC(2026, 11, 1))],
{ env: { ...process.env, PYTHONPATH: FIXTURE, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 120000 });
cli('import', path.join(tmp, 'data.prom'));
cli('inventory', 'import', path.join(tmp, 'inventory.csv'));
cli('inventory', 'import', path.join(tmp, 'inventory-resize.csv'), '--effective', '2026-11-16');
const html = path.join(tmp, 'report.html');
cli('report', 'monthly', '--month', '2026-11', '--as-of', '2027-01-01', '--format', 'html', '-o', html);

let browser;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--lang=zh-CN'] });
} catch (e) {
  fs.rmSync(tmp, { recursive: true, force: true });
  skip(`chromium cannot be launched here: ${String(e.message).split('\n')[0]}`);
}

// Pixels of a PNG, read back by the browser itself (a canvas): how many differ from white,
// and how many are dark (text).
async function inkOf(page, png) {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    let ink = 0, dark = 0;
    for (let i = 0; i < px.length; i += 4) {
      const s = px[i] + px[i + 1] + px[i + 2];
      if (s < 750) ink++;
      if (s < 300) dark++;
    }
    return { w: c.width, h: c.height, ink, dark };
  }, png.toString('base64'));
}

let failed = false;
try {
  fs.mkdirSync(OUT, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('file://' + html);

  const title = await page.textContent('h1');
  assert.match(title, /资源使用报告 2026-11/, 'the Chinese title');
  const h2 = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
  for (const part of ['资源利用情况表', '优化建议', '使用效率通报']) {
    assert.ok(h2.some((t) => t.includes(part)), `section ${part} in ${JSON.stringify(h2)}`);
  }
  const text = await page.textContent('body');
  for (const s of ['单位甲', '单位乙', '单位丙', '人社系统', 'vm-b', '回收']) assert.ok(text.includes(s), s);
  assert.ok((await page.$$('svg')).length >= 1, 'the charts (inline SVG)');

  // The font: Noto Sans CJK, and CJK strings as wide as their glyphs - a missing font
  // would draw tofu boxes, all of one width.
  const fonts = await page.evaluate(() => {
    const c = document.createElement('canvas').getContext('2d');
    const h = document.querySelector('h1');
    c.font = getComputedStyle(h).fontSize + ' ' + getComputedStyle(h).fontFamily;
    return {
      noto: document.fonts.check('16px "Noto Sans CJK SC"'),
      cjk: c.measureText('资源利用').width, latin: c.measureText('iiii').width,
      box: c.measureText('\u{10FFFD}\u{10FFFD}\u{10FFFD}\u{10FFFD}').width,
    };
  });
  assert.ok(fonts.noto, 'Noto Sans CJK SC is available to the page (fonts-noto-cjk)');
  assert.ok(fonts.cjk > fonts.latin * 2, `CJK glyphs are full width: ${JSON.stringify(fonts)}`);

  // Screenshots, checked not to be blank: the whole page, and the title alone (CJK text).
  const full = await page.screenshot({ path: path.join(OUT, 'report-zh.png'), fullPage: true });
  const box = await (await page.$('h1')).boundingBox();
  const head = await page.screenshot({ path: path.join(OUT, 'report-zh-title.png'), clip: box });
  const blank = await browser.newPage({ viewport: { width: 400, height: 300 } });
  const a = await inkOf(blank, full), b = await inkOf(blank, head);
  await blank.close();
  assert.ok(a.ink > a.w * a.h * 0.01, `the page screenshot has content: ${JSON.stringify(a)}`);
  assert.ok(a.dark > 2000, `the page screenshot has text: ${JSON.stringify(a)}`);
  // The title is about 12 CJK characters at 18 px: hundreds of dark pixels.
  assert.ok(b.dark > 300, `the title's CJK text is drawn: ${JSON.stringify(b)}`);
  assert.deepEqual(errors, [], 'no script errors');
  console.log(`ok: HTML report in chromium: title, parts, units, Noto Sans CJK (CJK ${fonts.cjk.toFixed(1)} px ` +
              `vs iiii ${fonts.latin.toFixed(1)} px), ${a.dark} dark pixels on the page, ${b.dark} in the title; ` +
              'screenshots in ' + OUT);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
