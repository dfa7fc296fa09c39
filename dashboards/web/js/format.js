// format.js - numbers as people read them.

export function pct(r, digits = 1) {
  return r === null || r === undefined || !Number.isFinite(r) ? '—' : (r * 100).toFixed(digits) + ' %';
}

const BIN = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function bytes(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BIN.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)) + ' ' + BIN[i];
}

export function rate(v) { return v === null || !Number.isFinite(v) ? '—' : bytes(v) + '/s'; }

export function bits(vBytesPerS) {
  if (vBytesPerS === null || !Number.isFinite(vBytesPerS)) return '—';
  const b = vBytesPerS * 8;
  const u = [[1e12, 'Tbit/s'], [1e9, 'Gbit/s'], [1e6, 'Mbit/s'], [1e3, 'kbit/s']];
  for (const [d, n] of u) if (b >= d) return +(b / d).toFixed(2) + ' ' + n;
  return b.toFixed(0) + ' bit/s';
}

export function num(v, digits = 2) {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : String(+v.toFixed(digits));
}

// A resource's capacity in its unit.
export function capacity(resource, v) {
  if (resource === 'cpu') return num(v, 1) + ' CPU';
  if (resource === 'network') return bits(v);
  return bytes(v);
}

export function age(ms) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd' + Math.floor((s % 86400) / 3600) + 'h';
}

// "2026-11-26 10:31:05" in UTC, like the CLI.
export function time(ms) {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

// Safe text for innerHTML templates.
export function h(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
