/** The programmatic API: the same commands and events as the CLI, in-process. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig, deploy, Events, loadConfig, rollback, type ShipEvent } from '../../src/index.js';
import { rmrf, ship, tmpDir, writeTree } from '../harness/ship.js';
import { writeBuild } from '../harness/stage.js';

const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));

test('deploy and rollback in-process emit the events the CLI prints', async () => {
  const dir = tmpDir();
  dirs.push(dir);
  const config = defineConfig({ app: 'api', stages: { test: { hosts: ['local'], deployTo: './srv', build: { dir: 'build' } } } });
  writeTree(dir, { 'ship.config.json': JSON.stringify(config) });
  assert.is((await loadConfig({ cwd: dir })).stage('test').app, 'api');
  const seen: ShipEvent[] = [];
  const events = new Events();
  events.on((e) => seen.push(e));
  const ids: string[] = [];
  for (const v of ['one', 'two']) {
    writeBuild(path.join(dir, 'build'), v, 1);
    const r = await deploy({ stage: 'test', cwd: dir, events });
    assert.is(r.exitCode, 0, r.error?.message);
    ids.push(r.release!);
  }
  assert.equal(seen.filter((e) => e.type === 'switch').map((e) => (e as { release: string }).release), ids);
  assert.is(seen.at(-1)!.type, 'summary');
  const rb = await rollback({ stage: 'test', cwd: dir, events });
  assert.is(rb.exitCode, 0);
  assert.is(rb.release, ids[0]);
  assert.is(readFileSync(path.join(dir, 'srv/current/VERSION'), 'utf8'), 'one');
  // Errors come back as results with the exit code the CLI would use; nothing is thrown.
  const bad = await rollback({ stage: 'test', cwd: dir, to: 'nope' });
  assert.is(bad.exitCode, 2);
});

test('--concurrency bounds the hosts worked on at once; a bad value is exit 2', async () => {
  const dir = tmpDir();
  dirs.push(dir);
  const log = path.join(dir, 'reload.log');
  const hosts = ['a', 'b', 'c'].map((name) => ({ name, host: 'local', deployTo: `./srv-${name}` }));
  // The reload records when it runs on each host: with one host at a time the spans never overlap.
  const reload = `echo "start $SHIP_HOST" >> ${log}; sleep 0.3; echo "end $SHIP_HOST" >> ${log}`;
  writeTree(dir, { 'ship.config.json': JSON.stringify({ app: 'c', reload, stages: { test: { hosts, build: { dir: 'build' } } } }) });
  writeBuild(path.join(dir, 'build'), 'v1', 1);
  const bad = await ship(['deploy', 'test', '--concurrency', '0'], { cwd: dir });
  assert.is(bad.code, 2);
  const spans = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
  let r = await ship(['deploy', 'test', '--concurrency', '1'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(spans(), ['start', 'end', 'start', 'end', 'start', 'end']);
  rmrf(log);
  writeBuild(path.join(dir, 'build'), 'v2', 1);
  r = await ship(['deploy', 'test'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(spans().slice(0, 3), ['start', 'start', 'start'], 'by default the hosts reload together');
  for (const n of ['a', 'b', 'c']) assert.is(readFileSync(path.join(dir, `srv-${n}/current/VERSION`), 'utf8'), 'v2');
});

test.run();
