/**
 * Staged releases: `ship deploy --no-switch` points `next` at the release and leaves the
 * live one alone; `ship switch` promotes it (or a named release) with reload, health
 * checks and auto-rollback, then removes `next`. Three real sshd hosts with health apps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventsOf, explain, release, served, startFleet, type Fleet } from './strategies-fleet.js';

const test = suite<{ f?: Fleet }>('staged releases', {});
test.after.each(async (ctx) => {
  await ctx.f?.stop();
  ctx.f = undefined;
});


const states = async (f: Fleet, host: string) =>
  Object.fromEntries((await f.ship('releases', 'prod', '--json')).events.filter((e) => e.id && e.host === host).map((e) => [e.id, e.state]));

test('--no-switch stages next (current, app untouched); ship switch promotes it and removes next', async (ctx) => {
  const f = (ctx.f = await startFleet('staged'));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);

  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--no-switch', '--json');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);
  assert.ok(v2 > v1);
  assert.is(eventsOf(r2, 'switch').length, 0, 'no flip of current');
  assert.is(eventsOf(r2, 'health').length, 0);
  assert.not.ok(r2.events.some((e) => e.type === 'step' && (e.step === 'reload' || e.step === 'switch')), 'no switch, no reload');
  assert.match(r2.events.at(-1)!.message, 'ship switch prod');
  for (const h of f.hosts) {
    assert.is(f.current(h), v1, h.name);
    assert.is(f.next(h), v2, h.name);
    assert.is(await served(h.appPort!), `200 release=${v1} version=v1`, 'the app was not reloaded');
  }
  assert.equal(await states(f, 'host2'), { [v1]: 'active', [v2]: 'staged' });

  const r3 = await f.ship('switch', 'prod', '--json');
  assert.is(r3.code, 0, explain(r3));
  assert.is(release(r3), v2);
  assert.equal(eventsOf(r3, 'switch').map((e) => [e.host, e.release, e.previous]).sort(), [
    ['host1', v2, v1],
    ['host2', v2, v1],
    ['host3', v2, v1],
  ]);
  assert.equal(eventsOf(r3, 'health').filter((e) => e.ok).map((e) => e.host).sort(), ['host1', 'host2', 'host3']);
  for (const h of f.hosts) {
    assert.is(f.current(h), v2, h.name);
    assert.is(f.next(h), undefined, `${h.name}: next removed`);
    assert.is(await served(h.appPort!), `200 release=${v2} version=v2`);
    assert.ok(f.history(h).some((x) => x.action === 'switch' && x.release === v2 && x.previous === v1));
  }
  assert.equal(await states(f, 'host1'), { [v1]: 'superseded', [v2]: 'active' });

  // nothing staged any more: nothing to switch (exit 1, nothing changed)
  const r4 = await f.ship('switch', 'prod', '--json');
  assert.is(r4.code, 1, explain(r4));
  assert.match(r4.events.find((e) => e.type === 'error')!.message, /nothing to switch/);

  // a named release: back to v1 (older, so v2 becomes rolled-back), with the stage's strategy
  const r5 = await f.ship('switch', 'prod', v1, '--json', '--strategy', 'rolling');
  assert.is(r5.code, 0, explain(r5));
  const order = r5.events.filter((e) => e.type === 'switch' || (e.type === 'health' && e.ok)).map((e) => `${e.type} ${e.host}`);
  assert.equal(order, ['switch host1', 'health host1', 'switch host2', 'health host2', 'switch host3', 'health host3']);
  for (const h of f.hosts) assert.is(f.current(h), v1);
  assert.equal(await states(f, 'host3'), { [v1]: 'active', [v2]: 'rolled-back' });
});

test('ship switch whose health check fails: hosts go back, the release is failed, next removed, exit 1', async (ctx) => {
  const f = (ctx.f = await startFleet('stagedfail'));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  f.build({ VERSION: 'v2\n', HEALTH_STATUS: '503\n' });
  const r2 = await f.ship('deploy', 'prod', '--no-switch', '--json');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);

  const r3 = await f.ship('switch', 'prod', '--json', '--strategy', 'canary');
  assert.is(r3.code, 1, explain(r3));
  assert.equal(eventsOf(r3, 'switch').map((e) => [e.host, e.release]), [
    ['host1', v2],
    ['host1', v1],
  ]);
  const err = r3.events.find((e) => e.type === 'error')!;
  assert.match(err.message, /host1: health check .* status 503, expected 200/);
  for (const h of f.hosts) {
    assert.is(f.current(h), v1, h.name);
    assert.is(f.next(h), undefined, `${h.name}: next no longer points at the failed release`);
    assert.is(await served(h.appPort!), `200 release=${v1} version=v1`);
  }
  assert.equal(await states(f, 'host2'), { [v1]: 'active', [v2]: 'failed' });
});

test('ship switch: bad release names are usage errors (exit 2), nothing changes', async (ctx) => {
  const f = (ctx.f = await startFleet('stagedbad', { apps: false }));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  for (const id of ['../x', '/etc', '20990101000000']) {
    const r = await f.ship('switch', 'prod', id, '--json');
    assert.is(r.code, 2, `${id}: ${explain(r)}`);
    for (const h of f.hosts) assert.is(f.current(h), v1);
  }
  // switching to what is live already is a no-op that succeeds
  const same = await f.ship('switch', 'prod', v1, '--json');
  assert.is(same.code, 0, explain(same));
  assert.is(eventsOf(same, 'switch').length, 0);
});

test.run();
