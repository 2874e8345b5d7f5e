/**
 * Health checks made from a real sshd host through its SSH connection (a direct-tcpip
 * channel) against HTTP servers on 127.0.0.1, and — on a server that forbids TCP
 * forwarding (its own sshd with AllowTcpForwarding no) — through curl on the host.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Healthcheck } from '../../src/config/types.js';
import type { Ctx, HostRun } from '../../src/context.js';
import { ShipError } from '../../src/errors.js';
import { Events, type Stamped } from '../../src/events.js';
import { checkHealth, healthVia, viaTool } from '../../src/health.js';
import type { Shell } from '../../src/shell.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { ExecOptions } from '../../src/transport/types.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';

interface T {
  ssh: SshHosts;
  t: SshTransport;
  servers: Array<net.Server>;
}
const test = suite<T>('health checks through ssh', {} as T);

test.before(async (ctx) => {
  ctx.ssh = await sharedSshHosts();
  const h = ctx.ssh.hosts[0];
  ctx.t = new SshTransport({ name: 'web1', host: h.host, port: h.port, user: h.user, privateKey: ctx.ssh.privateKey, agent: false, knownHosts: [ctx.ssh.knownHosts], strictHostKeyChecking: 'yes' });
  await ctx.t.connect();
  ctx.servers = [];
});
test.after(async (ctx) => {
  await ctx.t.close();
  for (const s of ctx.servers) s.close();
});

/** An HTTP server on 127.0.0.1 whose answers come from `answer(n)` for the n-th request. */
async function serve(ctx: T, answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<number> {
  let n = 0;
  const s = http.createServer((req, res) => answer(++n, req, res));
  ctx.servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

async function rawServer(ctx: T, onConn: (sock: net.Socket) => void): Promise<number> {
  const s = net.createServer(onConn);
  ctx.servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

function run(t: SshTransport, hc: Partial<Healthcheck> & { url: string }, release = 'R1') {
  const events: Stamped[] = [];
  const ev = new Events();
  ev.on((e) => events.push(e));
  const ctx = { events: ev, interrupted: false } as unknown as Ctx;
  const h = { name: 'web1', t, cfg: { healthcheck: { expect: 200, timeout: 3000, retries: 2, interval: 50, ...hc } } } as unknown as HostRun;
  const done = checkHealth(ctx, h, release).then(
    () => undefined,
    (e: unknown) => e as ShipError,
  );
  return { events, h, done, health: () => events.filter((e) => e.type === 'health') as Array<Extract<Stamped, { type: 'health' }>> };
}

test('healthy: expected status and {release} in the body; one health event', async (ctx) => {
  const port = await serve(ctx, (_n, req, res) => res.end(req.url === '/healthz' && req.headers['user-agent'] === 'ship-healthcheck' ? 'release=R1 ok' : 'wrong'));
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, contains: 'release={release}' });
  assert.is(await r.done, undefined);
  assert.equal(r.health().map((e) => [e.host, e.ok, e.status, e.attempt]), [['web1', true, 200, 1]]);
  assert.is(healthVia(r.h), 'forward');
});

test('the body lacks the release: fails after 1 + retries tries, naming host, URL and why', async (ctx) => {
  const port = await serve(ctx, (_n, _req, res) => res.end('release=R0'));
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, contains: 'release={release}' }, 'R2');
  const err = await r.done;
  assert.instance(err, ShipError);
  assert.is(err!.exitCode, 1);
  assert.is(err!.host, 'web1');
  assert.match(err!.message, `web1: health check http://127.0.0.1:${port}/healthz failed after 3 tries: the answer lacks "release=R2"`);
  assert.equal(r.health().map((e) => [e.ok, e.status]), [[false, 200], [false, 200], [false, 200]]);
});

test('expected status other than 200; a wrong one fails', async (ctx) => {
  const port = await serve(ctx, (_n, _req, res) => {
    res.statusCode = 204;
    res.end();
  });
  assert.is(await run(ctx.t, { url: `http://127.0.0.1:${port}/`, expect: 204 }).done, undefined);
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/`, retries: 0 });
  assert.match((await r.done)!.message, 'failed after 1 try: status 204, expected 200');
});

test('retries until the app answers well (503, 503, then 200)', async (ctx) => {
  const port = await serve(ctx, (n, _req, res) => {
    res.statusCode = n < 3 ? 503 : 200;
    res.end(n < 3 ? 'starting' : 'up');
  });
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, retries: 5 });
  assert.is(await r.done, undefined);
  assert.equal(r.health().map((e) => [e.ok, e.status, e.attempt]), [[false, 503, 1], [false, 503, 2], [true, 200, 3]]);
});

test('nothing listening: the channel open is refused on the host, every try, clear error', async (ctx) => {
  const port = await freePort();
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, retries: 1 });
  const err = await r.done;
  assert.match(err!.message, new RegExp(`^web1: health check http://127.0.0.1:${port}/healthz failed after 2 tries: cannot open a connection to 127.0.0.1:${port} from the host`));
  assert.match(err!.hint!, `is the app listening at 127.0.0.1:${port} on web1?`);
  assert.equal(r.health().map((e) => [e.ok, e.status]), [[false, undefined], [false, undefined]]);
});

test('an app that accepts but never answers: each try ends at the timeout', async (ctx) => {
  const held: net.Socket[] = [];
  const port = await rawServer(ctx, (s) => held.push(s));
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, timeout: 300, retries: 1 });
  const err = await r.done;
  assert.match(err!.message, 'failed after 2 tries: no answer within 300ms');
  for (const s of held) s.destroy();
});

test('a complete answer counts even when the server keeps the connection open', async (ctx) => {
  const held: net.Socket[] = [];
  const port = await rawServer(ctx, (s) => {
    held.push(s);
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nrelease=R1\r\n'));
  });
  const r = run(ctx.t, { url: `http://127.0.0.1:${port}/healthz`, timeout: 5000, retries: 0, contains: '{release}' });
  assert.is(await r.done, undefined);
  for (const s of held) s.destroy();
});

test('chunked answers are decoded', async (ctx) => {
  const port = await serve(ctx, (_n, _req, res) => {
    res.write('rel');
    setTimeout(() => res.end('ease=R7 done'), 20);
  });
  assert.is(await run(ctx.t, { url: `http://127.0.0.1:${port}/x?y=1`, contains: 'release={release} done' }, 'R7').done, undefined);
});

test('a server that forbids TCP forwarding: the check runs curl on the host instead', async (ctx) => {
  const h = await ctx.ssh.startExtra(`nofwd-${process.pid}`, { knownHosts: 'listed', allowTcpForwarding: false });
  const t = new SshTransport({ name: 'web1', host: h.host, port: h.port, user: h.user, privateKey: ctx.ssh.privateKey, agent: false, knownHosts: [ctx.ssh.knownHosts], strictHostKeyChecking: 'yes' });
  await t.connect();
  try {
    // forwarding really is refused by this server
    const refused = await t.forward(1, '127.0.0.1').then(
      (s) => (s.destroy(), undefined),
      (e: Error) => e,
    );
    assert.ok(refused, 'the server should refuse direct-tcpip');
    const app = await serve(ctx, (_n, _req, res) => res.end('release=R5\n'));
    const ok = run(t, { url: `http://127.0.0.1:${app}/healthz`, contains: 'release={release}' }, 'R5');
    assert.is(await ok.done, undefined);
    assert.is(healthVia(ok.h), 'tool');
    assert.equal(ok.health().map((e) => [e.ok, e.status]), [[true, 200]]);
    const bad = await serve(ctx, (_n, _req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const r = run(t, { url: `http://127.0.0.1:${bad}/healthz`, retries: 1 });
    assert.match((await r.done)!.message, 'failed after 2 tries: status 500, expected 200');
  } finally {
    await t.close();
  }
});

test('the fallback uses wget on a host without curl', async (ctx) => {
  // A host whose PATH has wget and a few basics but no curl: the local transport with its
  // commands run under that PATH.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'ship-nocurl-'));
  try {
    for (const tool of ['wget', 'sed', 'tail', 'mktemp', 'rm']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(real, path.join(bin, tool));
    }
    const local = new LocalTransport('web1');
    const t = Object.assign(Object.create(local), {
      exec: (c: Shell, o: ExecOptions = {}) => local.exec(c, { ...o, env: { ...o.env, PATH: bin } }),
    }) as LocalTransport;
    const app = await serve(ctx, (_n, req, res) => {
      res.statusCode = req.url === '/bad' ? 502 : 200;
      res.end('release=R3');
    });
    const h = { name: 'web1', t } as unknown as HostRun;
    assert.equal(await viaTool(h, { timeout: 2000 }, new URL(`http://127.0.0.1:${app}/ok`)), { status: 200, body: 'release=R3' });
    assert.equal(await viaTool(h, { timeout: 2000 }, new URL(`http://127.0.0.1:${app}/bad`)), { status: 502, body: 'release=R3' });
    const closed = await freePort();
    await viaTool(h, { timeout: 2000 }, new URL(`http://127.0.0.1:${closed}/`)).then(
      () => assert.unreachable('no server there'),
      (e: Error) => assert.match(e.message, /wget: no HTTP answer/),
    );
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test.run();
