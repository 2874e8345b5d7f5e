/**
 * The canary's access-log reader over a real sshd host (src/colors/access-log.ts): each
 * read fetches only the bytes written since the last one; a rotated log (a new inode,
 * even one already longer than the old offset) is read from its start; a symlinked log is
 * followed to the file it names. The log files are written on the host (the sshd's deploy
 * root) as nginx would append them; the figures are the canary's own tallies.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { logCursor, readWindow } from '../../src/colors/access-log.js';
import { newTallies } from '../../src/colors/gates.js';
import type { HostRun } from '../../src/context.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { ROOT } from '../harness/ship.js';
import { sharedSshHosts } from '../harness/sshd.js';

interface T {
  t: SshTransport;
  h: HostRun;
  dir: string;
}
const test = suite<T>('canary access log over ssh', {} as T);
const ports = { blue: 3001, green: 3002 };

test.before(async (ctx) => {
  const ssh = await sharedSshHosts();
  const host = ssh.hosts[0];
  ctx.t = new SshTransport({ name: 'web1', host: host.host, port: host.port, user: host.user, privateKey: ssh.privateKey, agent: false, knownHosts: [ssh.knownHosts], strictHostKeyChecking: 'yes' });
  await ctx.t.connect();
  ctx.h = { name: 'web1', t: ctx.t } as unknown as HostRun;
  ctx.dir = path.join(host.deployRoot, `canary-log-${randomBytes(3).toString('hex')}`);
  mkdirSync(ctx.dir, { recursive: true });
  chmodSync(ctx.dir, 0o755);
});
test.after(async (ctx) => {
  await ctx.t.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/**
 * Log lines as nginx writes them: n requests answered by `port` with `status`. The older
 * 4-field format (no cookie field): how lines are read does not depend on it, and main's
 * parser reads it too, so a failure here is about reading (test/unit/canary-log.test.ts
 * covers the cookie field).
 */
function lines(n: number, port: number, status: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `2026-11-30T05:00:${String(i % 60).padStart(2, '0')}+00:00 127.0.0.1:${port} ${status} 0.00${i % 10}\n`;
  return s;
}

test('only the bytes written since the last read are read, and the figures add up over the reads', async ({ h, dir }) => {
  const file = path.join(dir, 'only-new.log');
  writeFileSync(file, lines(500, ports.green, 500));
  const cur = await logCursor(h, file);
  const t = newTallies();
  const first = lines(10, ports.green, 200);
  appendFileSync(file, first);
  const r1 = await readWindow(h, cur, ports, t);
  assert.is(r1.bytes, Buffer.byteLength(first), 'the first read fetched only what was appended after the window began');
  const second = lines(5, ports.green, 500) + lines(3, ports.blue, 200);
  appendFileSync(file, second);
  const r2 = await readWindow(h, cur, ports, t);
  assert.is(r2.bytes, Buffer.byteLength(second), 'the second read fetched only what came after the first');
  assert.is(t.green.requests, 15);
  assert.is(t.green.errors, 5, 'the 500s written before the window are not counted');
  assert.is(t.blue.requests, 3);
  const r3 = await readWindow(h, cur, ports, t);
  assert.is(r3.bytes, 0, 'nothing new: nothing read');
});

test('a rotated log (a new inode, already longer than the old offset) is read from its start', async ({ h, dir }) => {
  const file = path.join(dir, 'rotated.log');
  writeFileSync(file, lines(100, ports.blue, 200));
  const cur = await logCursor(h, file);
  const oldSize = statSync(file).size;
  // logrotate: the old log moves away, nginx reopens a new one (and has written more to it
  // than the old offset by the time the canary reads).
  renameSync(file, `${file}.1`);
  const fresh = lines(300, ports.green, 500) + lines(7, ports.blue, 200);
  writeFileSync(file, fresh);
  assert.ok(statSync(file).size > oldSize);
  const t = newTallies();
  const r = await readWindow(h, cur, ports, t);
  assert.is(t.green.requests, 300, 'every line of the new log, from its first byte');
  assert.is(t.green.errors, 300);
  assert.is(t.blue.requests, 7);
  assert.is(r.rotated, true);
  assert.is(cur.offset, Buffer.byteLength(fresh));
  assert.is(cur.inode, String(statSync(file).ino));
  // After the rotation, reads go on from where this one stopped in the new file.
  appendFileSync(file, lines(2, ports.blue, 200));
  await readWindow(h, cur, ports, t);
  assert.is(t.blue.requests, 9);
});

test('a symlinked log is followed: sizes and bytes are those of the file it names', async ({ h, dir }) => {
  const realDir = path.join(dir, 'var-log-nginx');
  mkdirSync(realDir);
  chmodSync(realDir, 0o755);
  const real = path.join(realDir, 'shop.access.log');
  writeFileSync(real, lines(200, ports.green, 500));
  const link = path.join(dir, 'access.log');
  symlinkSync(real, link);
  const cur = await logCursor(h, link);
  assert.is(cur.offset, statSync(real).size, "the window starts at the end of the file the link names, not at the link's own size");
  const added = lines(12, ports.green, 200);
  appendFileSync(real, added);
  const t = newTallies();
  const r = await readWindow(h, cur, ports, t);
  assert.is(r.bytes, Buffer.byteLength(added));
  assert.is(t.green.requests, 12);
  assert.is(t.green.errors, 0, 'none of the 500s written before the window');
  // The link now names another file (a new inode): read from its start.
  const other = path.join(realDir, 'shop.access.log.new');
  writeFileSync(other, lines(4, ports.blue, 200));
  const tmp = `${link}.tmp`;
  symlinkSync(other, tmp);
  renameSync(tmp, link);
  await readWindow(h, cur, ports, t);
  assert.is(t.blue.requests, 4);
});

test('a 400,000-line window (20 MB) is judged in a process whose heap is capped at 32 MB', async ({ dir }) => {
  // A bound, not a timing: a reader that holds the window (its text, its lines, an entry
  // per line) needs several times the file's size in heap and dies here; one that folds
  // chunks into fixed-size tallies needs the same few MB for any window.
  const file = path.join(dir, 'big.log');
  const fd = openSync(file, 'w');
  for (let b = 0; b < 40; b++) writeSync(fd, lines(9000, ports.blue, 200) + lines(1000, ports.green, 500));
  closeSync(fd);
  const r = spawnSync(process.execPath, ['--max-old-space-size=32', '--import', 'tsx', path.join(ROOT, 'test/harness/canary-log-child.ts'), file], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.status, 0, `the reader died (exit ${r.status ?? r.signal}): ${r.stderr.split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 6).join('\n')}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.is(out.blue.requests, 360_000);
  assert.is(out.green.requests, 40_000);
  assert.is(out.green.errors, 40_000);
  assert.is(out.read.bytes, statSync(file).size);
});

test.run();
