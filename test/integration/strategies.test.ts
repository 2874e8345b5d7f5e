/**
 * Rollout strategies over three real sshd hosts, each with a health app that serves the
 * release it has loaded (reload = SIGHUP). The order of flips and health checks is read
 * from --json events; the resulting state from the hosts' files.
 */
import { writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventsOf, explain, release, served, startFleet, type Fleet } from './strategies-fleet.js';

const test = suite<{ f?: Fleet }>('strategies', {});
test.after.each(async (ctx) => {
  await ctx.f?.stop();
  ctx.f = undefined;
});



test('rolling, batch 1: drain, flip, reload, health, undrain per host, one host after the other', async (ctx) => {
  const f = (ctx.f = await startFleet('rolling'));
  const hook = (n: string) => `echo "${n} $SHIP_HOST $SHIP_RELEASE $SHIP_PREVIOUS_RELEASE $(readlink "$SHIP_DEPLOY_TO/current") $PWD" >> "$SHIP_DEPLOY_TO/lb.log"`;
  f.configure({ hooks: { drain: [hook('drain')], undrain: [hook('undrain')] } });
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  // all-at-once runs no drain/undrain hooks
  for (const h of f.hosts) assert.is(f.read(h, 'lb.log'), undefined);

  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json', '--strategy', 'rolling', '--batch', '1');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);
  assert.ok(v2 > v1);
  const order = r2.events
    .filter((e) => e.type === 'switch' || (e.type === 'health' && e.ok) || (e.type === 'hook' && (e.hook === 'drain' || e.hook === 'undrain')))
    .map((e) => `${e.type === 'hook' ? e.hook : e.type} ${e.host}`);
  assert.equal(order, [
    'drain host1', 'switch host1', 'health host1', 'undrain host1',
    'drain host2', 'switch host2', 'health host2', 'undrain host2',
    'drain host3', 'switch host3', 'health host3', 'undrain host3',
  ]);
  for (const e of eventsOf(r2, 'switch')) {
    assert.is(e.release, v2);
    assert.is(e.previous, v1);
  }
  // the rollout steps are reported per batch
  assert.equal(eventsOf(r2, 'step').filter((e) => e.step === 'switch' && e.status === 'start' && !e.host).map((e) => e.batch), [1, 2, 3]);
  for (const h of f.hosts) {
    assert.is(f.current(h), v2);
    assert.is(await served(h.appPort!), `200 release=${v2} version=v2`);
    const rel = `${h.deployTo}/releases/${v2}`;
    assert.is(
      f.read(h, 'lb.log'),
      `drain ${h.name} ${v2} ${v1} releases/${v1} ${rel}\n` + `undrain ${h.name} ${v2} ${v1} releases/${v2} ${rel}\n`,
    );
  }
});

test('canary whose health check fails: the canary goes back, no other host flips, exit 1, release failed', async (ctx) => {
  const f = (ctx.f = await startFleet('canary'));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);

  f.build({ VERSION: 'v2\n', HEALTH_STATUS: '500\n' });
  const r2 = await f.ship('deploy', 'prod', '--json', '--strategy', 'canary', '--canary', '1');
  assert.is(r2.code, 1, explain(r2));
  const v2 = release(r2);
  // host1 went to v2 and back; host2 and host3 never moved
  assert.equal(
    eventsOf(r2, 'switch').map((e) => [e.host, e.release, e.previous]),
    [
      ['host1', v2, v1],
      ['host1', v1, v2],
    ],
  );
  const health = eventsOf(r2, 'health');
  assert.ok(health.length >= 2 && health.every((e) => e.host === 'host1' && e.ok === false && e.status === 500), JSON.stringify(health));
  const err = r2.events.find((e) => e.type === 'error')!;
  assert.is(err.code, 1);
  assert.is(err.host, 'host1');
  assert.match(err.message, /host1: health check http:\/\/127\.0\.0\.1:\d+\/healthz failed after 5 tries: status 500, expected 200/);
  assert.match(err.hint, new RegExp(`rolled back: host1 -> ${v1}`));
  assert.is(r2.events.at(-1)!.type, 'summary');
  assert.is(r2.events.at(-1)!.exitCode, 1);
  for (const h of f.hosts) {
    assert.is(f.current(h), v1, h.name);
    assert.is(await served(h.appPort!), `200 release=${v1} version=v1`, `${h.name} serves v1 again (reloaded after the rollback)`);
    assert.ok(f.history(h).some((x) => x.action === 'failure' && x.release === v2 && x.states?.[v2] === 'failed'), h.name);
  }
  const rel = await f.ship('releases', 'prod', '--json');
  assert.is(rel.code, 0, explain(rel));
  const rows = rel.events.filter((e) => e.id);
  for (const h of f.hosts) {
    assert.equal(
      rows.filter((x) => x.host === h.name).map((x) => [x.id, x.state, x.current]),
      [
        [v1, 'active', true],
        [v2, 'failed', false],
      ],
    );
  }
  // a plain rollback has nothing to go to, and a failed release cannot be switched to
  const sw = await f.ship('switch', 'prod', v2, '--json');
  assert.is(sw.code, 2, explain(sw));
  assert.match(sw.events.find((e) => e.type === 'error')!.message, new RegExp(`release ${v2} failed`));
});

test('canary --pause stops after the canary (exit 0); ship switch completes the rollout', async (ctx) => {
  const f = (ctx.f = await startFleet('pause', { stage: { strategy: { type: 'canary', canary: 1, batchSize: 2 } } }));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  // The canary first; then host2 and host3 in one batch, in parallel (either order).
  const order = eventsOf(r1, 'switch').map((e) => e.host);
  assert.equal([order[0], ...order.slice(1).sort()], ['host1', 'host2', 'host3']);

  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json', '--pause');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);
  const summary = r2.events.at(-1)!;
  assert.is(summary.type, 'summary');
  assert.match(summary.message, `ship switch prod ${v2}`);
  assert.equal(eventsOf(r2, 'switch').map((e) => e.host), ['host1']);
  assert.equal(eventsOf(r2, 'health').filter((e) => e.ok).map((e) => e.host), ['host1']);
  assert.equal([f.current(0), f.current(1), f.current(2)], [v2, v1, v1]);
  // the hosts left for later have the release staged as next
  assert.equal([f.next(0), f.next(1), f.next(2)], [undefined, v2, v2]);
  assert.is(await served(f.hosts[0].appPort!), `200 release=${v2} version=v2`);
  assert.is(await served(f.hosts[1].appPort!), `200 release=${v1} version=v1`);

  const r3 = await f.ship('switch', 'prod', '--json');
  assert.is(r3.code, 0, explain(r3));
  assert.is(release(r3), v2);
  // the canary host is left alone; the rest go in one batch of 2 with health checks
  assert.equal(eventsOf(r3, 'switch').map((e) => [e.host, e.release, e.previous]).sort(), [
    ['host2', v2, v1],
    ['host3', v2, v1],
  ]);
  assert.equal(eventsOf(r3, 'health').filter((e) => e.ok).map((e) => e.host).sort(), ['host2', 'host3']);
  for (const h of f.hosts) {
    assert.is(f.current(h), v2);
    assert.is(f.next(h), undefined);
    assert.is(await served(h.appPort!), `200 release=${v2} version=v2`);
  }
  const rel = await f.ship('releases', 'prod', '--json');
  for (const row of rel.events.filter((e) => e.id)) assert.is(row.state, row.id === v2 ? 'active' : 'superseded');
});

test('ship rollback after a paused canary puts the canary back and abandons the staged rollout', async (ctx) => {
  const f = (ctx.f = await startFleet('pauseback', { stage: { strategy: { type: 'canary', canary: 1, batchSize: 2 } } }));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json', '--pause');
  assert.is(r2.code, 0, explain(r2));
  assert.equal([f.next(0), f.next(1), f.next(2)], [undefined, release(r2), release(r2)]);
  const rb = await f.ship('rollback', 'prod', '--json');
  assert.is(rb.code, 0, explain(rb));
  assert.equal(eventsOf(rb, 'switch').map((e) => [e.host, e.release]), [['host1', v1]], 'only the canary host moves');
  assert.equal([f.current(0), f.current(1), f.current(2)], [v1, v1, v1]);
  assert.equal([f.next(0), f.next(1), f.next(2)], [undefined, undefined, undefined]);
  const sw = await f.ship('switch', 'prod', '--json');
  assert.is(sw.code, 1, 'nothing is staged any more');
  assert.equal([f.current(0), f.current(1), f.current(2)], [v1, v1, v1]);
});

test('all-at-once: a reload failing on one host puts every host back on its release, exit 1', async (ctx) => {
  const f = (ctx.f = await startFleet('reloadfail'));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);

  f.build({ VERSION: 'v2\n' });
  writeFileSync(`${f.hosts[1].deployTo}.noreload`, 'v2\n'); // host2's reload refuses v2
  const r2 = await f.ship('deploy', 'prod', '--json');
  assert.is(r2.code, 1, explain(r2));
  const v2 = release(r2);
  const flips = eventsOf(r2, 'switch');
  assert.equal(flips.filter((e) => e.release === v2).map((e) => e.host).sort(), ['host1', 'host2', 'host3']);
  assert.equal(flips.filter((e) => e.release === v1).map((e) => e.host).sort(), ['host1', 'host2', 'host3']);
  // every flip to v2 happened before any flip back (all together, then all back)
  const firstBack = flips.findIndex((e) => e.release === v1);
  assert.ok(flips.slice(0, firstBack).every((e) => e.release === v2));
  assert.is(eventsOf(r2, 'health').length, 0, 'no health check after a failed reload');
  const err = r2.events.find((e) => e.type === 'error')!;
  assert.is(err.host, 'host2');
  assert.match(err.message, /host2: reload \(.*\) failed \(exit 3\)/);
  assert.match(err.message, /reload refused for v2 on host2/);
  for (const h of f.hosts) {
    assert.is(f.current(h), v1, h.name);
    assert.is(await served(h.appPort!), `200 release=${v1} version=v1`);
    assert.ok(f.history(h).some((x) => x.action === 'failure' && x.states?.[v2] === 'failed'), h.name);
  }
});

test('rollout flags that contradict each other are usage errors: exit 2, nothing contacted', async (ctx) => {
  const f = (ctx.f = await startFleet('flags', { apps: false }));
  for (const args of [
    ['--strategy', 'rolling', '--pause'],
    ['--strategy', 'all-at-once', '--batch', '2'],
    ['--batch', '0'],
    ['--strategy', 'rolling', '--canary', '1'],
  ]) {
    const r = await f.ship('deploy', 'prod', '--json', ...args);
    assert.is(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
    for (const h of f.hosts) assert.is(f.current(h), undefined);
  }
  for (const h of f.hosts) assert.is(f.history(h).length, 0);
});

test.run();
