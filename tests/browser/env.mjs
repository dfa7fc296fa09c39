// env.mjs - what every browser test needs first: where the source, build and
// screenshots are, how much slower a sanitizer build runs, and chromium driven
// by playwright-core from dashboards/web/node_modules. A test that cannot run
// here (no chromium, no playwright-core) exits 77, meson's "skipped", with a
// message saying what to install.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

export const SRC = process.env.PW_SOURCE || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const BUILD = process.env.PW_BUILD || path.join(SRC, 'build/default');
export const CHROMIUM = process.env.PW_CHROMIUM || '/usr/bin/chromium';
export const OUT = path.join(SRC, 'tests/out/browser');
export const CLI = path.join(BUILD, 'collector/poolwatch');
export const FIXTURES = process.env.PW_FIXTURES || path.join(SRC, 'tests/fixtures');
export const SLOW = BUILD.includes('asan') ? 4 : 1;

export function skip(why) {
  console.log('SKIP: ' + why);
  process.exit(77);
}

// playwright-core's chromium launcher, or a skip.
export function chromiumOrSkip() {
  if (!fs.existsSync(CHROMIUM)) skip(`no ${CHROMIUM} (apt-get install chromium; deploy/packages.sh lists it)`);
  try {
    const req = createRequire(path.join(SRC, 'dashboards/web/package.json'));
    return req('playwright-core').chromium;
  } catch (e) {
    skip('playwright-core is not installed: npm ci --prefix dashboards/web');
  }
  return null;
}
