/**
 * One contract, every transport: the same assertions run against LocalTransport (in a
 * temp dir) and SshTransport (against the real sshd harness). Both targets live on this
 * machine, so results are also checked from outside with node:fs.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { raw, sh } from '../../src/shell.js';
import { FileExistsError, type Transport } from '../../src/transport/types.js';

export interface ContractFixture {
  t: Transport;
  /** An empty directory writable through the transport, absolute. */
  root: string;
  /** What home() must return. */
  home: string;
  cleanup(): Promise<void>;
}

export function transportContract(label: string, setup: () => Promise<ContractFixture>) {
  const s = suite<{ fx?: ContractFixture }>(`transport contract: ${label}`, {});
  let fx!: ContractFixture;
  let n = 0;
  /** A fresh directory per test. */
  const dir = async (): Promise<string> => {
    const d = `${fx.root}/case${n++}`;
    await fx.t.mkdirp(d);
    return d;
  };

  s.before(async () => {
    fx = await setup();
  });
  s.after(async () => {
    await fx?.cleanup();
  });

  s('exec: exit codes and the command as given', async () => {
    const ok = await fx.t.exec(sh`true`);
    assert.is(ok.code, 0);
    const bad = await fx.t.exec(sh`exit ${3}`);
    assert.is(bad.code, 3);
    assert.is(bad.command, 'exit 3');
    const missing = await fx.t.exec(sh`definitely-not-a-command-ship`);
    assert.is(missing.code, 127);
  });

  s('exec: stdout and stderr apart', async () => {
    const r = await fx.t.exec(raw(`printf 'out\\n'; printf 'err\\n' >&2; printf more`));
    assert.is(r.code, 0);
    assert.is(r.stdout, 'out\nmore');
    assert.is(r.stderr, 'err\n');
  });

  s('exec: a signal ends the command (code null, signal set)', async () => {
    const r = await fx.t.exec(raw('kill -TERM $$'));
    assert.is(r.code, null);
    assert.is(r.signal, 'SIGTERM');
  });

  s('exec: cwd (with spaces and quotes in the name); a missing cwd fails', async () => {
    const d = `${await dir()}/it's a dir`;
    await fx.t.mkdirp(d);
    const r = await fx.t.exec(sh`pwd`, { cwd: d });
    assert.is(r.stdout.trim(), d);
    const m = await fx.t.exec(sh`pwd`, { cwd: `${d}/missing` });
    assert.is(m.code, 125);
  });

  s('exec: env values arrive literally (quotes, spaces, $(), backticks)', async () => {
    const d = await dir();
    const env = {
      A: `it's "quoted"`,
      B: 'two  spaces\tand tab',
      C: `$(touch ${d}/pwned1)`,
      D: '`touch ' + d + '/pwned2`',
      E: '$HOME ${PATH} \\n',
      F: 'line1\nline2',
    };
    const r = await fx.t.exec(raw(`for v in "$A" "$B" "$C" "$D" "$E" "$F"; do printf '%s|' "$v"; done`), { env });
    assert.is(r.code, 0);
    assert.is(r.stdout, Object.values(env).join('|') + '|');
    assert.not.ok(existsSync(`${d}/pwned1`));
    assert.not.ok(existsSync(`${d}/pwned2`));
  });

  s('exec: envFile relative to cwd is exported; a missing one is skipped', async () => {
    const d = await dir();
    await fx.t.writeFile(`${d}/.env`, `FROM_FILE='from file'\nOTHER=2\n`);
    const r = await fx.t.exec(raw(`sh -c 'printf "%s/%s" "$FROM_FILE" "$OTHER"'`), { cwd: d, envFile: '.env', env: { OTHER: 'env' } });
    assert.is(r.code, 0);
    // the file is read after env, so it wins; and its variables are exported to children
    assert.is(r.stdout, 'from file/2');
    const m = await fx.t.exec(raw(`printf '%s' "\${FROM_FILE-unset}"`), { cwd: d, envFile: 'nope.env' });
    assert.is(m.code, 0);
    assert.is(m.stdout, 'unset');
  });

  s('exec: stdin string and Buffer', async () => {
    const r = await fx.t.exec(sh`cat`, { stdin: 'hello\nworld' });
    assert.is(r.stdout, 'hello\nworld');
    const b = await fx.t.exec(sh`wc -c`, { stdin: Buffer.alloc(1000, 1) });
    assert.is(b.stdout.trim(), '1000');
    const none = await fx.t.exec(sh`cat`);
    assert.is(none.code, 0);
    assert.is(none.stdout, '');
  });

  s('exec: a 20 MB stream on stdin arrives whole', async () => {
    const d = await dir();
    const total = 20 * 1024 * 1024;
    const hash = createHash('sha256');
    let sent = 0;
    const src = new Readable({
      read() {
        if (sent >= total) return this.push(null);
        const chunk = randomBytes(Math.min(256 * 1024, total - sent));
        sent += chunk.length;
        hash.update(chunk);
        this.push(chunk);
      },
    });
    const r = await fx.t.exec(sh`cat > ${d + '/big.bin'} && wc -c < ${d + '/big.bin'}`, { stdin: src });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.trim(), String(total));
    const got = createHash('sha256').update(readFileSync(`${d}/big.bin`)).digest('hex');
    assert.is(got, hash.digest('hex'));
  });

  s('exec: a tar stream into tar -x', async () => {
    const d = await dir();
    // a tar built by the host's own tar, piped back in through stdin
    await fx.t.mkdirp(`${d}/src/sub`);
    await fx.t.writeFile(`${d}/src/sub/a.txt`, 'AAA');
    const tarball = await fx.t.exec(sh`tar -cf - -C ${d + '/src'} . | base64`);
    assert.is(tarball.code, 0);
    await fx.t.mkdirp(`${d}/out`);
    const r = await fx.t.exec(sh`tar -x --no-same-owner --no-same-permissions -f - -C ${d + '/out'}`, {
      stdin: Readable.from([Buffer.from(tarball.stdout, 'base64')]),
    });
    assert.is(r.code, 0, r.stderr);
    assert.is(readFileSync(`${d}/out/sub/a.txt`, 'utf8'), 'AAA');
  });

  s('exec: timeoutMs stops a long command', async () => {
    const t0 = Date.now();
    const r = await fx.t.exec(sh`sleep 20`, { timeoutMs: 300 });
    const took = Date.now() - t0;
    assert.ok(took < 5000, `took ${took} ms`);
    assert.is.not(r.code, 0);
    assert.ok(r.signal, 'a signal is reported');
  });

  s('readFile: null when missing, bytes otherwise', async () => {
    const d = await dir();
    assert.is(await fx.t.readFile(`${d}/missing`), null);
    assert.is(await fx.t.readFile(`${d}/missing-dir/x`), null);
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
    await fx.t.writeFile(`${d}/bin`, bytes);
    assert.ok((await fx.t.readFile(`${d}/bin`))!.equals(bytes));
    assert.ok(readFileSync(`${d}/bin`).equals(bytes));
  });

  s('writeFile: overwrite, mode, odd file names', async () => {
    const d = await dir();
    const p = `${d}/a b'$(x)\`y\`.txt`;
    await fx.t.writeFile(p, 'long content here');
    await fx.t.writeFile(p, 'short');
    assert.is(readFileSync(p, 'utf8'), 'short');
    await fx.t.writeFile(`${d}/m`, 'x', { mode: 0o640 });
    assert.is(lstatSync(`${d}/m`).mode & 0o777, 0o640);
    assert.is((await fx.t.stat(`${d}/m`))!.mode & 0o777, 0o640);
  });

  s('writeFile exclusive: creates once, then FileExistsError and the content stays', async () => {
    const d = await dir();
    const p = `${d}/lock`;
    await fx.t.writeFile(p, '{"holder":1}', { exclusive: true });
    let err: unknown;
    try {
      await fx.t.writeFile(p, '{"holder":2}', { exclusive: true });
    } catch (e) {
      err = e;
    }
    assert.instance(err, FileExistsError);
    assert.is((err as FileExistsError).path, p);
    assert.is(readFileSync(p, 'utf8'), '{"holder":1}');
    // a dangling symlink occupies the name too (O_EXCL does not follow it)
    await fx.t.symlink('nowhere', `${d}/dangling`);
    let err2: unknown;
    try {
      await fx.t.writeFile(`${d}/dangling`, 'x', { exclusive: true });
    } catch (e) {
      err2 = e;
    }
    assert.instance(err2, FileExistsError);
    assert.not.ok(existsSync(`${d}/nowhere`));
    // in a missing directory: an error, but not FileExistsError
    let err3: unknown;
    try {
      await fx.t.writeFile(`${d}/nodir/lock`, 'x', { exclusive: true });
    } catch (e) {
      err3 = e;
    }
    assert.ok(err3 instanceof Error);
    assert.not.instance(err3, FileExistsError);
  });

  s('writeFile exclusive: of many concurrent creators exactly one wins', async () => {
    const d = await dir();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => fx.t.writeFile(`${d}/lock`, `w${i}`, { exclusive: true })));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.is(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.instance(r.reason, FileExistsError);
    assert.match(readFileSync(`${d}/lock`, 'utf8'), /^w\d$/);
  });

  s('appendFile: creates, then appends', async () => {
    const d = await dir();
    await fx.t.appendFile(`${d}/h.jsonl`, '{"a":1}\n');
    await fx.t.appendFile(`${d}/h.jsonl`, '{"b":2}\n');
    assert.is(readFileSync(`${d}/h.jsonl`, 'utf8'), '{"a":1}\n{"b":2}\n');
  });

  s('mkdirp: nested, idempotent, refuses a file in the way', async () => {
    const d = await dir();
    await fx.t.mkdirp(`${d}/a/b/c`);
    await fx.t.mkdirp(`${d}/a/b/c`);
    await fx.t.mkdirp(`${d}/a`);
    assert.ok(lstatSync(`${d}/a/b/c`).isDirectory());
    await fx.t.writeFile(`${d}/f`, 'x');
    let err: unknown;
    try {
      await fx.t.mkdirp(`${d}/f/sub`);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Error, 'mkdirp through a file fails');
    assert.ok(lstatSync(`${d}/f`).isFile());
  });

  s('stat: file, dir, symlink (not followed), missing', async () => {
    const d = await dir();
    await fx.t.writeFile(`${d}/f`, '12345');
    await fx.t.mkdirp(`${d}/dd`);
    await fx.t.symlink('dd', `${d}/l`);
    await fx.t.symlink('missing', `${d}/dangling`);
    const f = await fx.t.stat(`${d}/f`);
    assert.is(f!.type, 'file');
    assert.is(f!.size, 5);
    assert.is((await fx.t.stat(`${d}/dd`))!.type, 'dir');
    assert.is((await fx.t.stat(`${d}/l`))!.type, 'symlink');
    assert.is((await fx.t.stat(`${d}/dangling`))!.type, 'symlink');
    assert.is(await fx.t.stat(`${d}/none`), null);
    assert.is(await fx.t.stat(`${d}/none/deeper`), null);
  });

  s('symlink + readlink: a relative target is kept as written', async () => {
    const d = await dir();
    await fx.t.mkdirp(`${d}/releases/20260101000000`);
    await fx.t.writeFile(`${d}/releases/20260101000000/REVISION`, 'abc');
    await fx.t.symlink('releases/20260101000000', `${d}/current`);
    assert.is(readlinkSync(`${d}/current`), 'releases/20260101000000');
    assert.is(await fx.t.readlink(`${d}/current`), 'releases/20260101000000');
    assert.is(readFileSync(`${d}/current/REVISION`, 'utf8'), 'abc');
    assert.is((await fx.t.readFile(`${d}/current/REVISION`))!.toString(), 'abc');
    assert.is(await fx.t.readlink(`${d}/releases`), null, 'a directory is not a link');
    assert.is(await fx.t.readlink(`${d}/missing`), null);
    let err: unknown;
    try {
      await fx.t.symlink('elsewhere', `${d}/current`);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Error, 'symlink onto an existing name fails');
    assert.is(readlinkSync(`${d}/current`), 'releases/20260101000000');
  });

  s('rename: atomically replaces an existing symlink (current is never missing)', async () => {
    const d = await dir();
    await fx.t.mkdirp(`${d}/releases/a`);
    await fx.t.mkdirp(`${d}/releases/b`);
    await fx.t.symlink('releases/a', `${d}/current`);
    // watch `current` from another process while it is flipped back and forth
    const watcher = spawn('/bin/sh', ['-c', `while :; do [ -L "$1" ] || echo MISSING; done`, 'sh', `${d}/current`]);
    let seen = '';
    watcher.stdout.on('data', (b) => (seen += b));
    try {
      for (let i = 0; i < 30; i++) {
        const next = i % 2 ? 'releases/a' : 'releases/b';
        await fx.t.symlink(next, `${d}/.current.tmp`);
        await fx.t.rename(`${d}/.current.tmp`, `${d}/current`);
        assert.is(await fx.t.readlink(`${d}/current`), next);
      }
    } finally {
      watcher.kill('SIGKILL');
    }
    assert.is(seen, '', 'current was missing at some instant');
    assert.is(readlinkSync(`${d}/current`), 'releases/a');
    assert.not.ok(existsSync(`${d}/.current.tmp`));
    assert.ok(lstatSync(`${d}/releases/b`).isDirectory(), 'the old target is untouched');
  });

  s('rename: a file over a file, and a directory to a new name', async () => {
    const d = await dir();
    await fx.t.writeFile(`${d}/new`, 'new');
    await fx.t.writeFile(`${d}/old`, 'old');
    await fx.t.rename(`${d}/new`, `${d}/old`);
    assert.is(readFileSync(`${d}/old`, 'utf8'), 'new');
    assert.not.ok(existsSync(`${d}/new`));
    await fx.t.mkdirp(`${d}/r.partial/x`);
    await fx.t.rename(`${d}/r.partial`, `${d}/r`);
    assert.ok(lstatSync(`${d}/r/x`).isDirectory());
    assert.not.ok(existsSync(`${d}/r.partial`));
  });

  s('list: names sorted, dotfiles included, [] when missing', async () => {
    const d = await dir();
    for (const f of ['b', 'a', '.hidden', '20260102000000', '20260101000000']) await fx.t.writeFile(`${d}/${f}`, '');
    await fx.t.mkdirp(`${d}/c`);
    assert.equal(await fx.t.list(d), ['.hidden', '20260101000000', '20260102000000', 'a', 'b', 'c']);
    assert.equal(await fx.t.list(`${d}/missing`), []);
  });

  s('remove: recursive, missing is fine, a symlink goes but not its target', async () => {
    const d = await dir();
    await fx.t.mkdirp(`${d}/tree/a/b`);
    await fx.t.writeFile(`${d}/tree/a/b/f`, 'x');
    await fx.t.mkdirp(`${d}/keep`);
    await fx.t.writeFile(`${d}/keep/f`, 'x');
    await fx.t.symlink('keep', `${d}/link`);
    await fx.t.remove(`${d}/tree`);
    await fx.t.remove(`${d}/link`);
    await fx.t.remove(`${d}/never-existed`);
    assert.not.ok(existsSync(`${d}/tree`));
    assert.not.ok(existsSync(`${d}/link`));
    assert.is(readFileSync(`${d}/keep/f`, 'utf8'), 'x');
    await fx.t.remove(`${d}/with space; rm -rf ${d}/keep`);
    assert.ok(existsSync(`${d}/keep/f`), 'a path is never interpreted by the shell');
  });

  s('home: the login user\'s home directory', async () => {
    assert.is(await fx.t.home(), fx.home);
  });

  s('forward: a TCP stream to a server listening on 127.0.0.1', async () => {
    const server = net.createServer((c) => {
      c.once('data', (d) => c.end(`pong:${d.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      const stream = await fx.t.forward(port);
      const reply = await new Promise<string>((resolve, reject) => {
        let buf = '';
        stream.on('data', (d: Buffer) => (buf += d.toString()));
        stream.on('end', () => resolve(buf));
        stream.on('close', () => resolve(buf));
        stream.on('error', reject);
        stream.write('ping');
      });
      assert.is(reply, 'pong:ping');
    } finally {
      server.close();
    }
  });

  s('forward: a closed port is an error', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    let err: unknown;
    try {
      const s2 = await fx.t.forward(port);
      s2.destroy();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Error);
  });

  return s;
}
