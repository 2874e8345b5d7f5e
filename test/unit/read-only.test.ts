/**
 * The read-only transport of a dry run, over a real local transport in a temp dir: every
 * write throws ReadOnlyViolation and leaves the disk as it was; reads pass; a command
 * runs only when marked readOnly.
 */
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { newCtx } from '../../src/context.js';
import { ShipError } from '../../src/errors.js';
import { Events, type Stamped } from '../../src/events.js';
import { runFlow } from '../../src/runner.js';
import { openHosts } from '../../src/hosts.js';
import type { Step } from '../../src/steps/types.js';
import { sh } from '../../src/shell.js';
import { LocalTransport } from '../../src/transport/local.js';
import { ReadOnlyTransport, ReadOnlyViolation } from '../../src/transport/read-only.js';

const test = suite('read-only transport');
let dir: string;
let t: ReadOnlyTransport;

test.before.each(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ship-ro-'));
  writeFileSync(path.join(dir, 'file'), 'hello');
  symlinkSync('file', path.join(dir, 'link'));
  t = new ReadOnlyTransport(new LocalTransport('box'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** Names, types, sizes and mtimes of everything in the dir. */
function state(): string[] {
  return readdirSync(dir)
    .sort()
    .map((n) => {
      const st = lstatSync(path.join(dir, n), { bigint: true });
      return `${n} ${st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'} ${st.size} ${st.mtimeNs}`;
    })
    .concat(String(lstatSync(dir, { bigint: true }).mtimeNs));
}

const p = (n: string) => path.join(dir, n);

const WRITES: Array<[string, () => Promise<unknown>]> = [
  ['writeFile', () => t.writeFile(p('new'), 'x')],
  ['writeFile over a file', () => t.writeFile(p('file'), 'x')],
  ['writeFile exclusive', () => t.writeFile(p('new'), 'x', { exclusive: true })],
  ['appendFile', () => t.appendFile(p('file'), 'more')],
  ['mkdirp', () => t.mkdirp(p('a/b'))],
  ['remove', () => t.remove(p('file'))],
  ['symlink', () => t.symlink('file', p('other'))],
  ['rename', () => t.rename(p('file'), p('moved'))],
  ['exec (not marked readOnly)', () => t.exec(sh`touch ${p('touched')}`)],
  ['exec readOnly: false', () => t.exec(sh`rm -f -- ${p('file')}`, { readOnly: false })],
];

for (const [name, write] of WRITES) {
  test(`${name} throws ReadOnlyViolation and writes nothing`, async () => {
    const before = state();
    let err: unknown;
    await write().catch((e) => (err = e));
    assert.instance(err, ReadOnlyViolation);
    assert.instance(err, ShipError);
    assert.is((err as ShipError).host, 'box');
    assert.match((err as Error).message, 'a dry run tried to');
    assert.equal(state(), before);
    assert.is(readFileSync(p('file'), 'utf8'), 'hello');
  });
}

test('reads pass through', async () => {
  const before = state();
  await t.connect();
  assert.is((await t.readFile(p('file')))?.toString(), 'hello');
  assert.is(await t.readFile(p('missing')), null);
  assert.equal(await t.stat(p('file')), { type: 'file', size: 5, mode: lstatSync(p('file')).mode & 0o7777 });
  assert.is((await t.stat(p('link')))?.type, 'symlink');
  assert.is(await t.readlink(p('link')), 'file');
  assert.equal((await t.list(dir)).sort(), ['file', 'link']);
  assert.is(await t.home(), os.homedir());
  assert.type(await t.renameMethod(), 'string');
  assert.is(t.name, 'box');
  assert.is(t.kind, 'local');
  t.cancel();
  await t.close();
  assert.equal(state(), before);
});

test('a command marked readOnly runs', async () => {
  const r = await t.exec(sh`cat ${p('file')}`, { readOnly: true });
  assert.is(r.code, 0);
  assert.is(r.stdout, 'hello');
  assert.not.ok(existsSync(p('touched')));
});

test('under dryRun the runner calls preview() instead of run(), hooks only say what they would run, and hosts are read-only', async () => {
  const cfg = parseConfig(
    {
      app: 'unit',
      stages: {
        prod: {
          hosts: [{ name: 'a', host: 'local', deployTo: p('srv') }],
          hooks: { 'before:upload': [`touch ${p('host-hook')}`, `local: touch ${p('local-hook')}`] },
        },
      },
    },
    p('ship.config.json'),
  );
  const events: Stamped[] = [];
  const ev = new Events();
  ev.on((e) => events.push(e));
  const calls: string[] = [];
  const step = (preview: boolean): Step => ({
    name: 'upload',
    description: 'a stand-in upload',
    async run(_ctx, hosts) {
      calls.push('run');
      for (const h of hosts) await h.t.writeFile(p('written'), 'x');
    },
    ...(preview ? { preview: async () => void calls.push('preview') } : {}),
  });
  const before = state();
  const ctx = newCtx('deploy', cfg.stage('prod'), ev, { dryRun: true });
  ctx.hosts = await openHosts(ctx);
  assert.instance(ctx.hosts[0].t, ReadOnlyTransport);
  await runFlow(ctx, [step(true)]);
  assert.equal(calls, ['preview']);
  const logs = events.filter((e) => e.type === 'log').map((e) => (e as { message: string }).message);
  assert.equal(logs, [`would run hook before:upload on a: touch ${p('host-hook')}`, `would run hook before:upload on this machine: touch ${p('local-hook')}`]);
  // A step without preview() runs, and its write is refused.
  let err: unknown;
  await runFlow(ctx, [step(false)]).catch((e) => (err = e));
  assert.instance(err, ReadOnlyViolation);
  assert.equal(state(), before);
  // Without dryRun the same hosts are writable and the step runs.
  const real = newCtx('deploy', cfg.stage('prod'), new Events(), {});
  real.hosts = await openHosts(real);
  assert.not.instance(real.hosts[0].t, ReadOnlyTransport);
});

test.run();
