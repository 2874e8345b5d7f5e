/**
 * The canary's reading of the access log: the bounded quantile sketch, line folding
 * (pinned requests left out, the older 4-field format still counted), the gates judged
 * on pinned traffic, and the chunked reader on a local file (lines split across chunks,
 * the byte cap). The same reader over real sshd: test/integration/canary-log.test.ts.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { logCursor, readWindow } from '../../src/colors/access-log.js';
import { colorFigures, foldLine, judge, newTallies, parseLine, quantile, TimeSketch } from '../../src/colors/gates.js';
import type { HostRun } from '../../src/context.js';
import { LocalTransport } from '../../src/transport/local.js';

const ports = { blue: 3001, green: 3002 };
const gates = { errorRate: 0.5, p95: 1.5, minRequests: 50 };

/** A deterministic pseudo-random stream (xorshift), so the sketch tests are repeatable. */
function rand(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const sk = suite('request-time sketch');
sk('below one second it is exact to the millisecond (nginx logs milliseconds)', () => {
  const r = rand(7);
  const values = Array.from({ length: 20_000 }, () => Math.round(r() * 999) / 1000);
  const s = new TimeSketch();
  values.forEach((v) => s.add(v));
  for (const q of [0.5, 0.9, 0.95, 0.99, 1]) assert.is(s.quantile(q), quantile(values, q), `q ${q}`);
});
sk('long-tailed times up to an hour: p95 within 0.2 % of the exact nearest rank', () => {
  for (const seed of [1, 2, 3]) {
    const r = rand(seed);
    // Log-uniform from 1 ms to 1000 s, rounded to milliseconds as nginx logs them.
    const values = Array.from({ length: 50_000 }, () => Math.round(10 ** (r() * 6)) / 1000);
    const s = new TimeSketch();
    values.forEach((v) => s.add(v));
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = quantile(values, q);
      const got = s.quantile(q);
      assert.ok(Math.abs(got - exact) / exact < 0.002, `seed ${seed} q ${q}: ${got} vs ${exact}`);
    }
  }
});
sk('a fixed size whatever it is given; merging two equals adding both', () => {
  const a = new TimeSketch();
  const b = new TimeSketch();
  const both = new TimeSketch();
  const size = a.counts.length;
  const r = rand(11);
  for (let i = 0; i < 100_000; i++) {
    const v = r() * 10;
    (i % 2 ? a : b).add(v);
    both.add(v);
  }
  a.add(1e9); // beyond the last bucket: clamped, not grown
  both.add(1e9);
  assert.is(a.counts.length, size);
  assert.ok(size < 6000, `${size} buckets`);
  a.merge(b);
  assert.is(a.n, both.n);
  assert.equal([...a.counts], [...both.counts]);
  assert.ok(Number.isNaN(new TimeSketch().quantile(0.95)));
});
sk.run();

const fold = suite('folding log lines');
fold('the cookie field: `-` is no pin; any other value is a pin, left out of the figures', () => {
  assert.equal(parseLine('2026-11-30T05:00:00+00:00 127.0.0.1:3002 200 0.004 -'), { upstream: '127.0.0.1:3002', status: 200, time: 0.004 });
  assert.equal(parseLine('t 127.0.0.1:3002 500 0.004 20261130-green'), { upstream: '127.0.0.1:3002', status: 500, time: 0.004, pin: '20261130-green' });
  // A cookie is whatever the client sent: spaces and digits in it do not shift the fields.
  assert.equal(parseLine('t 127.0.0.1:3001, 127.0.0.1:3002 502 1.250 x 127.0.0.1:3001 200 0.001'), {
    upstream: '127.0.0.1:3002',
    status: 502,
    time: 1.25,
    pin: 'x 127.0.0.1:3001 200 0.001',
  });
  const t = newTallies();
  for (const l of ['t 127.0.0.1:3002 200 0.010 -', 't 127.0.0.1:3002 500 0.900 r-green', 't 127.0.0.1:3001 200 0.020', 't - 404 0.000 r-blue', 'garbage']) foldLine(l, ports, t);
  assert.equal(t.green.figures(), { requests: 1, errors: 0, errorRate: 0, p95: 0.01, pinned: 1 });
  assert.equal(t.blue.figures(), { requests: 1, errors: 0, errorRate: 0, p95: 0.02, pinned: 0 });
});
fold('lines of the older format (no cookie field) are counted as unpinned', () => {
  const f = colorFigures(['t 127.0.0.1:3002 500 0.004', 't 127.0.0.1:3002 200 0.002', 't 127.0.0.1:3001 200 0.003'].join('\n'), ports);
  assert.is(f.green.requests, 2);
  assert.is(f.green.errors, 1);
  assert.is(f.blue.requests, 1);
});
fold.run();

/** Log text: n lines answered by `port` with `status`, each carrying `cookie` ('-': none). */
const lines = (n: number, port: number, status: number, cookie: string, time = '0.005') =>
  Array.from({ length: n }, (_, i) => `2026-11-30T05:00:${String(i % 60).padStart(2, '0')}+00:00 127.0.0.1:${port} ${status} ${time} ${cookie}`);

const pin = suite('gates on pinned requests');
pin('many pinned 500s on the new color do not fail a healthy canary', () => {
  const text = [...lines(100, 3002, 200, '-'), ...lines(900, 3001, 200, '-'), ...lines(5000, 3002, 500, '20261130-green')].join('\n');
  const f = colorFigures(text, ports);
  const v = judge(f.green, f.blue, gates, true);
  assert.equal(v, { ok: true }, JSON.stringify(f));
});
pin('many pinned 200s on the new color do not make a bad canary pass', () => {
  const text = [...lines(80, 3002, 200, '-'), ...lines(20, 3002, 500, '-'), ...lines(900, 3001, 200, '-'), ...lines(50_000, 3002, 200, '20261130-green')].join('\n');
  const f = colorFigures(text, ports);
  const v = judge(f.green, f.blue, gates, true);
  assert.is(!v.ok && v.gate, 'errorRate', JSON.stringify(v));
});
pin('pinned requests do not count toward minRequests, and fast pinned ones do not hide a slow p95', () => {
  const few = colorFigures([...lines(10, 3002, 200, '-'), ...lines(900, 3001, 200, '-'), ...lines(1000, 3002, 200, 'x-green')].join('\n'), ports);
  const w = judge(few.green, few.blue, gates, true);
  assert.is(!w.ok && w.gate, 'minRequests');
  const slow = colorFigures([...lines(100, 3002, 200, '-', '0.900'), ...lines(900, 3001, 200, '-', '0.100'), ...lines(5000, 3002, 200, 'x-green', '0.001')].join('\n'), ports);
  const p = judge(slow.green, slow.blue, gates, true);
  assert.is(!p.ok && p.gate, 'p95', JSON.stringify(slow));
  assert.match(!p.ok ? p.message : '', '5000 pinned by cookie, not counted');
});
pin.run();

interface R {
  dir: string;
  h: HostRun;
}
const rd = suite<R>('reading a window in chunks', {} as R);
rd.before.each((ctx) => {
  ctx.dir = mkdtempSync(path.join(os.tmpdir(), 'ship-canary-log-'));
  ctx.h = { name: 'local', t: new LocalTransport() } as unknown as HostRun;
});
rd.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

rd('lines split across chunk boundaries are folded whole, each once; a line still being written waits', async ({ dir, h }) => {
  const file = path.join(dir, 'access.log');
  writeFileSync(file, `${lines(50, 3001, 200, '-').join('\n')}\n`);
  const cur = await logCursor(h, file);
  const t = newTallies();
  appendFileSync(file, `${[...lines(7, 3002, 500, '-'), ...lines(13, 3001, 200, '-')].join('\n')}\n2026-11-30T05:00:00+00:00 127.0.0.1:3002 50`);
  const r1 = await readWindow(h, cur, ports, t, { chunk: 100 });
  assert.is(r1.lines, 20);
  assert.is(t.green.errors, 7);
  assert.is(t.blue.requests, 13);
  appendFileSync(file, '0 0.001 -\n');
  const r2 = await readWindow(h, cur, ports, t, { chunk: 100 });
  assert.is(r2.lines, 1);
  assert.is(r2.bytes, Buffer.byteLength('2026-11-30T05:00:00+00:00 127.0.0.1:3002 500 0.001 -\n'));
  assert.is(t.green.errors, 8);
});
rd('more than the cap since the last read: the newest bytes, from a whole line, and the cursor at the end', async ({ dir, h }) => {
  const file = path.join(dir, 'access.log');
  writeFileSync(file, '');
  const cur = await logCursor(h, file);
  const t = newTallies();
  appendFileSync(file, `${[...lines(1000, 3001, 500, '-'), ...lines(100, 3002, 200, '-')].join('\n')}\n`);
  const one = Buffer.byteLength(`${lines(1, 3002, 200, '-')[0]}\n`);
  const r = await readWindow(h, cur, ports, t, { cap: one * 50 + 10, chunk: 1000 });
  assert.ok(r.skipped > 0);
  assert.ok(r.bytes <= one * 50 + 10);
  assert.is(t.green.requests, 50, 'the last 50 whole lines');
  assert.is(t.blue.requests, 0, 'a line cut by the cap is not counted');
  assert.is(cur.offset, (await import('node:fs')).statSync(file).size);
});
rd('a missing log reads nothing; once it appears it is read from its start', async ({ dir, h }) => {
  const file = path.join(dir, 'access.log');
  const cur = await logCursor(h, file);
  const t = newTallies();
  assert.equal(await readWindow(h, cur, ports, t), { bytes: 0, lines: 0, rotated: false, skipped: 0 });
  writeFileSync(file, `${lines(3, 3002, 200, '-').join('\n')}\n`);
  await readWindow(h, cur, ports, t);
  assert.is(t.green.requests, 3);
});
rd.run();

