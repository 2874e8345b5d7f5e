/**
 * Every way a run can end early takes the Ctrl-C road: SIGHUP, SIGTERM, a closed output
 * pipe, Ctrl-C while waiting for a lock, a second Ctrl-C during a long upload. Each
 * leaves no lock and no .partial behind, and `failed` hooks run where the run failed.
 * Real sshd hosts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { collect, ROOT, rmrf, ship, spawnShip } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('exits over ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const roots = (sub: string) => ssh.hosts.map((h) => path.join(h.deployRoot, sub));
const FAILED_HOOK = 'touch "$SHIP_DEPLOY_TO/../$(basename "$SHIP_DEPLOY_TO")-failed-$SHIP_HOST"';
const failedHookRan = (sub: string) => ssh.hosts.map((h) => existsSync(path.join(h.deployRoot, `${sub}-failed-${h.name}`)));

/** A project with a `failed` hook and a first release (v1) live everywhere. */
async function deployed(sub: string) {
  const p = project(ssh, sub, { hooks: { failed: FAILED_HOOK } });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  return p;
}

async function until(cond: () => boolean) {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

const partialOnHost1 = (sub: string) => () => {
  const d = path.join(roots(sub)[0], 'releases');
  return existsSync(d) && readdirSync(d).some((x) => x.endsWith('.partial'));
};

/** No lock, no .partial, v1 still live on every host. */
function cleanAndUnchanged(sub: string) {
  for (const r of roots(sub)) {
    const l = layout(r);
    assert.not.ok(l.locked, `${r}: no lock left`);
    assert.equal(l.releases.filter((d) => d.endsWith('.partial')), [], `${r}: no .partial left`);
    assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v1');
  }
}

for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
  test(`${signal} mid-upload: stops, removes the .partial, runs the failed hooks, unlocks, exit 1`, async () => {
    const sub = signal.toLowerCase();
    const p = await deployed(sub);
    writeBuild(p.build, 'v2', 1, { 'blob.bin': randomBytes(32 * 1024 * 1024) });
    const child = spawnShip(['deploy', 'test'], { cwd: p.dir });
    const done = collect(child, false);
    await until(partialOnHost1(sub));
    child.kill(signal);
    const r = await done;
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, `interrupted (${signal})`);
    cleanAndUnchanged(sub);
    assert.equal(failedHookRan(sub), [true, true, true]);
  });
}

test('a closed output pipe (EPIPE) mid-run: the run stops and cleans up like Ctrl-C', async () => {
  const sub = 'epipe';
  const p = await deployed(sub);
  writeBuild(p.build, 'v2', 1, { 'blob.bin': randomBytes(32 * 1024 * 1024) });
  const child = spawnShip(['deploy', 'test', '--json'], { cwd: p.dir });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', () => {});
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await until(partialOnHost1(sub));
  child.stdout!.destroy(); // the reader goes away: ship's next write meets EPIPE
  const code = await exited;
  assert.is(code, 1, stderr);
  cleanAndUnchanged(sub);
  assert.equal(failedHookRan(sub), [true, true, true]);
});

test('Ctrl-C while waiting for a lock (--lock-wait): stops waiting at once, exit 3, the holder keeps its lock, no failed hooks', async () => {
  const sub = 'waitint';
  const p = await deployed(sub);
  const holder = JSON.stringify({ user: 'erin', host: 'ci', pid: 9, command: 'deploy test', startedAt: '2026-11-30T01:00:00.000Z', token: 'beef' });
  writeOwned(ssh, roots(sub)[0], { '.ship/lock': holder });
  writeBuild(p.build, 'v2');
  const child = spawnShip(['deploy', 'test', '--lock-wait', '600'], { cwd: p.dir });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = collect(child, false);
  await until(() => stderr.includes('waiting up to 600s'));
  child.kill('SIGINT');
  const r = await done;
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, 'interrupted while waiting for the lock on host1');
  assert.is(readFileSync(path.join(roots(sub)[0], '.ship/lock'), 'utf8'), holder, "the holder's lock is untouched");
  for (const r2 of roots(sub).slice(1)) assert.not.ok(layout(r2).locked);
  assert.equal(failedHookRan(sub), [false, false, false]);
});

test('a second Ctrl-C during a long upload aborts it: the upload never completes, the .partial is removed, failed hooks run, unlocked', async () => {
  const sub = 'doubleint';
  const p = await deployed(sub);
  writeBuild(p.build, 'v2', 1, { 'blob.bin': randomBytes(128 * 1024 * 1024) });
  const child = spawnShip(['deploy', 'test', '--json'], { cwd: p.dir });
  const done = collect(child, true);
  await until(partialOnHost1(sub));
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  const r = await done;
  assert.is(r.code, 1, r.stderr);
  assert.ok(
    r.events.some((e) => e.type === 'log' && /aborting the running commands/.test(e.message)),
    'the second Ctrl-C aborts',
  );
  assert.not.ok(
    r.events.some((e) => e.type === 'step' && e.step === 'upload' && e.status === 'done' && !e.host),
    'the upload step never completed',
  );
  assert.match(r.events.find((e) => e.type === 'error')?.message ?? '', 'interrupted');
  cleanAndUnchanged(sub);
  assert.equal(failedHookRan(sub), [true, true, true]);
});

test('`ship unlock | head -1` clears a stale lock and exits 0', async () => {
  const sub = 'unlockpipe';
  const p = await deployed(sub);
  writeOwned(ssh, roots(sub)[0], { '.ship/lock': JSON.stringify({ user: 'finn', host: 'old', pid: 3, command: 'deploy test', startedAt: 'x', token: 'cafe' }) });
  const old = new Date(Date.now() - 3600_000);
  utimesSync(path.join(roots(sub)[0], '.ship/lock'), old, old);
  const entry = path.join(ROOT, 'test/harness/cli-entry.ts');
  const tsx = import.meta.resolve('tsx');
  const r = spawnSync('bash', ['-c', 'set -o pipefail; node --import "$TSX" "$ENTRY" unlock test 2>&1 | head -1'], {
    cwd: p.dir,
    env: { ...process.env, CI: 'true', FORCE_COLOR: '0', TSX: tsx, ENTRY: entry },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is(r.stdout.trim().split('\n').length, 1);
  assert.not.ok(existsSync(path.join(roots(sub)[0], '.ship/lock')), 'the lock is gone');
});

test.run();
