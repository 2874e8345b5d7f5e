/**
 * The rollout engine over hosts on the local transport (temp dirs): batch order, per-batch
 * hooks, the automatic rollback after a failure, and a paused canary. Reload and health
 * are stand-in steps that record what they saw; the flip is the real switch step.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { newCtx, type Ctx, type HostRun } from '../../src/context.js';
import { ShipError } from '../../src/errors.js';
import { Events, type Stamped } from '../../src/events.js';
import { readHostState } from '../../src/host-state.js';
import { deployFlow } from '../../src/flows.js';
import { runFlow } from '../../src/runner.js';
import { openHosts } from '../../src/hosts.js';
import { hostReleases } from '../../src/releases.js';
import { switchStep } from '../../src/steps/switch.js';
import type { Step } from '../../src/steps/types.js';

interface World {
  dir: string;
  ctx: Ctx;
  events: Stamped[];
  calls: string[];
  current(name: string): string | undefined;
}

async function world(stage: Record<string, unknown>, opts: { first?: boolean; pause?: boolean } = {}): Promise<World> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ship-runner-'));
  for (const n of ['a', 'b', 'c']) {
    mkdirSync(path.join(dir, n, 'releases', 'R1'), { recursive: true });
    mkdirSync(path.join(dir, n, 'releases', 'R2'), { recursive: true });
    if (!opts.first) symlinkSync('releases/R1', path.join(dir, n, 'current'));
    // Both releases were published by ship (only such releases may go live).
    const history = [{ action: 'publish', release: 'R1', states: { R1: opts.first ? 'staged' : 'active' } }, { action: 'publish', release: 'R2', states: { R2: 'staged' } }];
    mkdirSync(path.join(dir, n, '.ship'), { recursive: true });
    writeFileSync(path.join(dir, n, '.ship', 'history.jsonl'), history.map((e) => JSON.stringify({ time: '2026-01-01T00:00:00Z', ...e })).join('\n') + '\n');
  }
  const cfg = parseConfig(
    {
      app: 'unit',
      stages: { prod: { hosts: ['a', 'b', 'c'].map((n) => ({ name: n, host: 'local', deployTo: path.join(dir, n) })), ...stage } },
    },
    path.join(dir, 'ship.config.json'),
  );
  const events: Stamped[] = [];
  const ev = new Events();
  ev.on((e) => events.push(e));
  const ctx = newCtx('deploy', cfg.stage('prod'), ev, { pause: opts.pause });
  ctx.flow = deployFlow;
  ctx.hosts = await openHosts(ctx);
  for (const h of ctx.hosts) {
    await readHostState(h);
    h.target = 'R2';
    h.published = true;
  }
  ctx.release = 'R2';
  const current = (n: string) => {
    try {
      return readlinkSync(path.join(dir, n, 'current')).replace('releases/', '');
    } catch {
      return undefined;
    }
  };
  return { dir, ctx, events, calls: [], current };
}

const recorder = (w: () => World, name: string, fail?: (h: HostRun) => boolean): Step => ({
  name,
  description: name,
  async run(ctx, hosts) {
    for (const h of hosts) {
      w().calls.push(`${name} ${h.name} ${h.currentId}`);
      if (fail?.(h)) throw new ShipError(`${h.name}: ${name} broke`, { host: h.name, reason: name });
    }
  },
});

const test = suite<{ w?: World }>('runner: rollouts', {});
test.after.each((c) => {
  if (c.w) rmSync(c.w.dir, { recursive: true, force: true });
  c.w = undefined;
});

test('rolling, batch 2: each batch is flipped, reloaded and checked before the next; drain/undrain around it', async (c) => {
  const w = (c.w = await world({ strategy: { type: 'rolling', batchSize: 2 }, hooks: { drain: ['local:echo "drain $SHIP_HOSTS" >> ../hooks.log'], undrain: ['local:echo "undrain $SHIP_HOSTS" >> ../hooks.log'] } }));
  // local: hooks run in the config's directory
  mkdirSync(path.join(w.dir, 'cfg'));
  w.ctx.stage.configDir = path.join(w.dir, 'cfg');
  const r = await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'reload'), recorder(() => w, 'health')] }]);
  assert.equal(r, {});
  assert.equal(w.calls, ['reload a R2', 'reload b R2', 'health a R2', 'health b R2', 'reload c R2', 'health c R2']);
  assert.equal(readFileSync(path.join(w.dir, 'hooks.log'), 'utf8'), 'drain a,b\nundrain a,b\ndrain c\nundrain c\n');
  const flips = w.events.filter((e) => e.type === 'switch').map((e) => (e as { host: string }).host);
  assert.equal(flips.sort(), ['a', 'b', 'c']);
  assert.equal(
    w.events.filter((e) => e.type === 'step' && !e.host && e.status === 'start').map((e) => `${(e as { step: string }).step}#${(e as { batch?: number }).batch}`),
    ['switch#1', 'reload#1', 'health#1', 'switch#2', 'reload#2', 'health#2'],
  );
  for (const n of ['a', 'b', 'c']) assert.is(w.current(n), 'R2');
});

test('a failure in batch 2 flips batches 1 and 2 back, records the failure, keeps the error and says what was rolled back', async (c) => {
  const w = (c.w = await world({ strategy: { type: 'rolling', batchSize: 1 } }));
  let err: ShipError | undefined;
  await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'health', (h) => h.name === 'b')] }]).catch((e) => (err = e));
  assert.instance(err, ShipError);
  assert.is(err!.message, 'b: health broke');
  assert.is(err!.host, 'b');
  assert.is(err!.exitCode, 1);
  assert.match(err!.hint!, 'rolled back: a -> R1, b -> R1');
  assert.equal(w.calls, ['health a R2', 'health b R2']);
  for (const n of ['a', 'b', 'c']) assert.is(w.current(n), 'R1', n);
  for (const h of w.ctx.hosts.slice(0, 2)) {
    assert.ok(h.history.some((x) => x.action === 'failure' && x.states?.R2 === 'failed'), h.name);
    assert.is(hostReleases(h).find((i) => i.id === 'R2')?.state, 'failed');
  }
  // c was never flipped
  assert.equal(w.events.filter((e) => e.type === 'switch' && (e as { host: string }).host === 'c'), []);
});

test('a drain hook that fails: earlier batches flip back, the failed batch is undrained, nothing else flips', async (c) => {
  const w = (c.w = await world({
    strategy: { type: 'rolling', batchSize: 1 },
    hooks: {
      drain: ['local:echo "drain $SHIP_HOSTS" >> ../hooks.log; [ "$SHIP_HOSTS" != b ]'],
      undrain: ['local:echo "undrain $SHIP_HOSTS" >> ../hooks.log'],
    },
  }));
  mkdirSync(path.join(w.dir, 'cfg'));
  w.ctx.stage.configDir = path.join(w.dir, 'cfg');
  let err: ShipError | undefined;
  await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'health')] }]).catch((e) => (err = e));
  assert.match(err!.message, 'hook drain');
  assert.match(err!.hint!, 'rolled back: a -> R1');
  assert.equal(readFileSync(path.join(w.dir, 'hooks.log'), 'utf8'), 'drain a\nundrain a\ndrain b\nundrain b\n');
  assert.equal(w.calls, ['health a R2']);
  for (const n of ['a', 'b', 'c']) assert.is(w.current(n), 'R1', n);
});

test('a first deploy that fails its health check leaves no release live (current removed)', async (c) => {
  const w = (c.w = await world({}, { first: true }));
  let err: ShipError | undefined;
  await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'health', (h) => h.name === 'c')] }]).catch((e) => (err = e));
  assert.is(err?.message, 'c: health broke');
  for (const n of ['a', 'b', 'c']) {
    assert.is(w.current(n), undefined, n);
    assert.not.ok(existsSync(path.join(w.dir, n, 'current')));
    assert.ok(existsSync(path.join(w.dir, n, 'releases', 'R2')), 'the release stays, for inspection');
  }
});

test('canary with pause: the canary batch only; the rest get `next` and are returned', async (c) => {
  const w = (c.w = await world({ strategy: { type: 'canary', canary: 1, batchSize: 5 } }, { pause: true }));
  const r = await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'health')] }, recorder(() => w, 'finish')]);
  assert.equal(r.paused?.map((h) => h.name), ['b', 'c']);
  assert.equal(w.calls, ['health a R2'], 'the flow stops after the canary: no finish');
  assert.equal([w.current('a'), w.current('b'), w.current('c')], ['R2', 'R1', 'R1']);
  for (const n of ['b', 'c']) assert.is(readlinkSync(path.join(w.dir, n, 'next')), 'releases/R2');
  assert.not.ok(existsSync(path.join(w.dir, 'a', 'next')));
});

test('hosts already on the target are left alone', async (c) => {
  const w = (c.w = await world({ strategy: { type: 'rolling', batchSize: 1 } }));
  const a = w.ctx.hosts[0];
  a.target = 'R1';
  const r = await runFlow(w.ctx, [{ rollout: [switchStep, recorder(() => w, 'health')] }]);
  assert.equal(r, {});
  assert.equal(w.calls, ['health b R2', 'health c R2']);
});

test.run();
