/**
 * The project caches ship writes under .ship/cache (build hashes, manifests) never write
 * through a file or symlink planted at the temp name: random temp names opened
 * exclusively (wx), mode 0600, then renamed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BuildInfo } from '../../src/context.js';
import { ManifestCache } from '../../src/manifest-text.js';
import { hashCacheFile, saveHashCache } from '../../src/scan.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-cachefile-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string) => (lstatSync(p).mode & 0o777).toString(8);

test('the hash cache never writes through a symlink planted at its temp name; it is 0600', async () => {
  const cacheDir = path.join(tmp, 'a/.ship/cache');
  mkdirSync(cacheDir, { recursive: true });
  const file = hashCacheFile(cacheDir, path.join(tmp, 'a/build'));
  const victim = path.join(tmp, 'victim-a');
  writeFileSync(victim, 'precious\n');
  // The name the temp file had (predictable: the pid), planted by another local user.
  symlinkSync(victim, `${file}.${process.pid}.tmp`);
  await saveHashCache({ files: [] } as unknown as BuildInfo, file);
  assert.is(readFileSync(victim, 'utf8'), 'precious\n', 'the planted link was not written through');
  assert.ok(lstatSync(file).isFile(), 'the cache is a plain file');
  assert.equal(JSON.parse(readFileSync(file, 'utf8')), { v: 1, e: [] });
  assert.is(mode(file), '600');
  assert.equal(readdirSync(cacheDir).filter((n) => n.endsWith('.tmp') && !n.includes(`.${process.pid}.`)), [], 'no temp file left');
});

test('the manifest cache never writes through a symlink planted at its temp name; entries are 0600', async () => {
  const dir = path.join(tmp, 'b/.ship/cache/manifests');
  mkdirSync(dir, { recursive: true });
  const text = '{"files":[\n]}\n';
  const hash = createHash('sha256').update(text).digest('hex');
  const victim = path.join(tmp, 'victim-b');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, path.join(dir, `${hash}.json.${process.pid}.tmp`));
  await new ManifestCache(dir).put(text);
  assert.is(readFileSync(victim, 'utf8'), 'precious\n', 'the planted link was not written through');
  const entry = path.join(dir, `${hash}.json`);
  assert.ok(lstatSync(entry).isFile());
  assert.is(readFileSync(entry, 'utf8'), text);
  assert.is(mode(entry), '600');
});

test.run();
