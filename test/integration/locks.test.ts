/**
 * Locks with an owner and a lease, over real sshd hosts: a live lock is refused by a
 * plain unlock, a run that lost its lock never switches nor deletes the new holder's
 * lock, and a stale lock is reported with its age and cleared without --force.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { collect, rmrf, ship, spawnShip } from '../harness/ship.js';
import { chownTree, layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('locks over ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const roots = (sub: string) => ssh.hosts.map((h) => path.join(h.deployRoot, sub));
const lockFiles = (sub: string) => roots(sub).map((r) => path.join(r, '.ship/lock'));

/** A before:switch hook that says it arrived, then waits for the test to let it go. */
function gate(sub: string, name: string) {
  const reached = (i: number) => path.join(ssh.hosts[i].deployRoot, `${sub}-${name}-reached`);
  const go = ssh.hosts.map((h) => path.join(h.deployRoot, `${sub}-${name}-go`));
  const hook = `touch "$SHIP_DEPLOY_TO/../${sub}-${name}-reached"; while [ ! -f "$SHIP_DEPLOY_TO/../${sub}-${name}-go" ]; do sleep 0.1; done`;
  return {
    hooks: { 'before:switch': hook },
    async reached() {
      while (!ssh.hosts.every((_, i) => existsSync(reached(i)))) await new Promise((r) => setTimeout(r, 50));
    },
    open() {
      for (const g of go) writeFileSync(g, '');
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 50 ms; false once `boundMs` passed without it. */
async function until(cond: () => boolean, boundMs: number): Promise<boolean> {
  for (const end = Date.now() + boundMs; Date.now() < end; await sleep(50)) if (cond()) return true;
  return cond();
}

/** Processes on this machine (the hosts are local sshd) running `grep` on `file` (`blocked`: those waiting in a FIFO's open). */
function grepsOn(file: string, blocked = false): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0]) !== 'grep' || !argv.includes(file)) continue;
      if (!blocked || /fifo|partner/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'))) n++;
    } catch {
      /* gone meanwhile */
    }
  }
  return n;
}

function proj(sub: string, stage: Record<string, unknown> = {}) {
  const p = project(ssh, sub, stage);
  dirs.push(p.dir);
  return p;
}

test('A holds, unlock refuses its live lock, --force removes it, B locks; A wakes, exits 3 without switching or touching B; C is refused; B goes live', async () => {
  const sub = 'abc';
  const gateA = gate(sub, 'A');
  const gateB = gate(sub, 'B');
  const pa = proj(sub, { hooks: gateA.hooks });
  const pb = proj(sub, { hooks: gateB.hooks });
  const pc = proj(sub);
  writeBuild(pc.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: pc.dir })).code, 0);

  writeBuild(pa.build, 'vA');
  const a = spawnShip(['deploy', 'test'], { cwd: pa.dir });
  const aDone = collect(a, false);
  await gateA.reached();

  const refused = await ship(['unlock', 'test'], { cwd: pc.dir });
  assert.is(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /live/);
  assert.match(refused.stderr, /root@\S+ pid \d+ \(deploy test\) since \S+, last heartbeat \d+s ago/);
  assert.ok(lockFiles(sub).every((f) => existsSync(f)), 'a live lock stays');

  const forced = await ship(['unlock', 'test', '--force'], { cwd: pc.dir });
  assert.is(forced.code, 0, forced.stderr);
  assert.ok(lockFiles(sub).every((f) => !existsSync(f)));

  writeBuild(pb.build, 'vB');
  const b = spawnShip(['deploy', 'test'], { cwd: pb.dir });
  const bDone = collect(b, false);
  await gateB.reached();
  const bLocks = lockFiles(sub).map((f) => readFileSync(f, 'utf8'));

  gateA.open();
  const ra = await aDone;
  assert.is(ra.code, 3, ra.stderr);
  assert.match(ra.stderr, 'lost its lock');
  assert.equal(lockFiles(sub).map((f) => readFileSync(f, 'utf8')), bLocks, "A leaves B's locks alone");
  for (const r of roots(sub)) assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v1', 'A never switched');

  writeBuild(pc.build, 'vC');
  const c = await ship(['deploy', 'test'], { cwd: pc.dir });
  assert.is(c.code, 3, c.stderr);
  assert.match(c.stderr, 'locked by');
  assert.not.match(c.stderr, 'ship unlock', 'no unlock advice for a live lock');

  gateB.open();
  const rb = await bDone;
  assert.is(rb.code, 0, rb.stderr);
  for (const r of roots(sub)) {
    assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'vB');
    assert.not.ok(layout(r).locked);
  }
});

test('a stale lock (heartbeat 10 minutes old): reported stale with its age; ship unlock clears it without --force', async () => {
  const sub = 'stale';
  const p = proj(sub);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const holder = { user: 'dana', host: 'laptop', pid: 77, command: 'deploy test', startedAt: '2026-11-30T01:00:00.000Z', token: 'f00d' };
  writeOwned(ssh, roots(sub)[0], { '.ship/lock': JSON.stringify(holder) });
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(lockFiles(sub)[0], old, old);

  writeBuild(p.build, 'v2');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /dana@laptop pid 77 \(deploy test\) since \S+, stale: last heartbeat 10m\d*s? ago/);
  assert.match(r.stderr, 'ship unlock test');
  assert.ok(existsSync(lockFiles(sub)[0]), "a deploy never removes another run's lock");

  const u = await ship(['unlock', 'test'], { cwd: p.dir });
  assert.is(u.code, 0, u.stderr);
  assert.match(u.stderr, 'removed the stale lock of dana@laptop');
  assert.not.ok(existsSync(lockFiles(sub)[0]));
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  assert.is(readFileSync(path.join(roots(sub)[0], 'current/VERSION'), 'utf8'), 'v2');
});

test('a run killed with SIGKILL on this machine: its lock is reported dead and a plain ship unlock clears it; a live run on this machine keeps its lock', async () => {
  const sub = 'dead';
  const g = gate(sub, 'K');
  const p = proj(sub, { hooks: g.hooks });
  const pq = proj(sub);
  writeBuild(pq.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: pq.dir })).code, 0);
  writeBuild(p.build, 'v2');
  const child = spawnShip(['deploy', 'test'], { cwd: p.dir });
  const done = collect(child, false);
  try {
    await g.reached();
    const live = await ship(['unlock', 'test'], { cwd: pq.dir });
    assert.is(live.code, 3, live.stderr);
    assert.match(live.stderr, /is live: not removed/);
    assert.ok(lockFiles(sub).every((f) => existsSync(f)), 'a live lock stays');
    assert.is(JSON.parse(readFileSync(lockFiles(sub)[0], 'utf8')).pid, child.pid);

    child.kill('SIGKILL');
    await done;
    const blocked = await ship(['deploy', 'test'], { cwd: pq.dir });
    assert.is(blocked.code, 3, blocked.stderr);
    assert.match(blocked.stderr, /dead: its process is gone on this machine, last heartbeat \d+s ago/);
    assert.match(blocked.stderr, 'ship unlock test');
    assert.ok(lockFiles(sub).every((f) => existsSync(f)), "a deploy never removes another run's lock");

    const u = await ship(['unlock', 'test'], { cwd: pq.dir });
    assert.is(u.code, 0, u.stderr);
    assert.match(u.stderr, 'removed the dead lock of root@');
    assert.ok(lockFiles(sub).every((f) => !existsSync(f)));
  } finally {
    g.open(); // the killed run's hook on the hosts ends too
  }
  writeBuild(pq.build, 'v3');
  assert.is((await ship(['deploy', 'test'], { cwd: pq.dir })).code, 0);
  for (const r of roots(sub)) assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v3');
});

test('a heartbeat that hangs (the lock briefly a FIFO its grep blocks on) is given up: the next beat touches the lock again', async () => {
  const sub = 'hang';
  const g = gate(sub, 'H');
  const p = proj(sub, { hooks: g.hooks, lock: { staleAfter: '10s' } });
  writeBuild(p.build, 'v1');
  const child = spawnShip(['deploy', 'test'], { cwd: p.dir });
  const done = collect(child, false);
  await g.reached();
  const f = lockFiles(sub)[0];
  const aside = `${f}.test-aside`;
  try {
    renameSync(f, aside);
    execFileSync('mkfifo', ['-m', '600', f]);
    chownTree(ssh, f);
    assert.ok(await until(() => grepsOn(f, true) > 0, 60_000), 'a beat reached the FIFO and blocks there');
    renameSync(aside, f);
    const old = new Date(Date.now() - 60_000);
    utimesSync(f, old, old);
    // The hung beat is given up (and its grep killed); a later beat touches the lock again.
    assert.ok(await until(() => statSync(f).mtimeMs > old.getTime() + 30_000, 30_000), 'the lock beats again after a hung beat');
    assert.ok(await until(() => grepsOn(f) === 0, 10_000), "the hung beat's grep was killed");
  } finally {
    if (existsSync(aside)) renameSync(aside, f);
    g.open(); // whatever failed above, the run finishes
  }
  const r = await done;
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'a heartbeat got no answer');
  for (const root of roots(sub)) assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v1');
});

test.run();
