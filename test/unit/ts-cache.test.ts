/**
 * The TypeScript config cache ($XDG_CACHE_HOME/ship/ts) holds code ship runs on the next
 * load: it is used only when it is this user's and no one else may write it; entries 0600.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as loader from '../../src/config/ts-loader.js';

const { loadTsConfig, tsCacheDir } = loader;
/** The warnings since the last call ([] where the loader has none to give). */
const takeTsCacheWarnings = (): string[] => (loader as { takeTsCacheWarnings?: () => string[] }).takeTsCacheWarnings?.() ?? [];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-tscache-'));
const saved = { xdg: process.env.XDG_CACHE_HOME, ts: process.env.SHIP_TS_CACHE };
test.before.each(() => {
  delete process.env.SHIP_TS_CACHE;
  takeTsCacheWarnings();
});
test.after(() => {
  if (saved.xdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved.xdg;
  if (saved.ts !== undefined) process.env.SHIP_TS_CACHE = saved.ts;
  rmSync(tmp, { recursive: true, force: true });
});

const base = (name: string) => {
  const b = path.join(tmp, name);
  mkdirSync(b, { recursive: true });
  process.env.XDG_CACHE_HOME = b;
  return path.join(b, 'ship', 'ts');
};

test('a fresh cache directory is made 0700 and used', () => {
  const dir = base('fresh');
  assert.is(tsCacheDir(), dir);
  assert.is((lstatSync(dir).mode & 0o777).toString(8), '700');
  assert.equal(takeTsCacheWarnings(), []);
});

test('a group- or world-writable cache directory is not used, with a warning naming it', () => {
  for (const m of [0o777, 0o775]) {
    const dir = base(`open-${m.toString(8)}`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, m);
    assert.is(tsCacheDir(), false, m.toString(8));
    const w = takeTsCacheWarnings();
    assert.is(w.length, 1);
    assert.match(w[0], `the TypeScript config cache ${dir} is not used`);
    assert.match(w[0], `mode 0${m.toString(8)}`);
  }
});

test('a cache directory owned by another user, or a symlink, is not used', () => {
  const other = base('other');
  mkdirSync(other, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) {
    chownSync(other, 65534, 65534);
    assert.is(tsCacheDir(), false);
    assert.match(takeTsCacheWarnings()[0], 'owned by uid 65534');
  }
  const real = path.join(tmp, 'elsewhere');
  mkdirSync(real, { mode: 0o700 });
  const link = base('link');
  mkdirSync(path.dirname(link), { recursive: true });
  symlinkSync(real, link);
  assert.is(tsCacheDir(), false);
  assert.match(takeTsCacheWarnings()[0], 'not a directory');
});

test('entries of the cache are 0600', async () => {
  const dir = base('entries');
  const cfg = path.join(tmp, 'proj', 'ship.config.ts');
  mkdirSync(path.dirname(cfg), { recursive: true });
  writeFileSync(cfg, "const n: number = 1;\nexport default { app: 'x', n };\n");
  const old = process.umask(0o022);
  try {
    const loaded = (await loadTsConfig(cfg)) as { app: string };
    assert.is(loaded.app, 'x');
  } finally {
    process.umask(old);
  }
  const entries = readdirSync(dir);
  assert.ok(entries.length > 0, 'something was cached');
  for (const e of entries) assert.is((lstatSync(path.join(dir, e)).mode & 0o777).toString(8), '600', e);
});

test.run();
