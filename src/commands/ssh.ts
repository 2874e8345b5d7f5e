/**
 * `ship ssh <stage> [host] [-- command…]`: a terminal on one host, in `current`.
 *
 * Without a command: the remote user's login shell (`$SHELL -l`, else /bin/sh). With
 * `-- command…`: the words joined with spaces (as `ship exec` and `ssh host cmd…` do),
 * run by /bin/sh. Either way on a pseudo-terminal, with the SHIP_* variables, the
 * stage's env and envFile, over the same connection a deploy makes (~/.ssh/config,
 * ProxyJump, strict host keys). The local terminal is put in raw mode and its size
 * changes are sent on. ship exits with the remote command's exit code (255 when it
 * was killed by a signal), as ssh does.
 *
 * A `local` host gets the same thing on this machine: the shell (or /bin/sh -c) as a
 * child process on this terminal, in current.
 *
 * Nothing deployed yet: the session starts in deployTo (or the home directory when
 * that is missing too), with a warning.
 *
 * No env or envFile value is ever on a command line, here or on the host: the script
 * that exports them goes in on the terminal (docs/security.md).
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { loadStage, type CommandOptions, type CommandResult } from '../run-command.js';
import { hostEnv, newCtx, type Ctx, type HostRun } from '../context.js';
import { ShipError, UsageError, type ExitCode } from '../errors.js';
import { Events } from '../events.js';
import { raw, type Shell } from '../shell.js';
import { connect } from '../steps/connect.js';
import { openHosts } from '../hosts.js';
import { BOOTSTRAP_FD3, framed, resolveEnvFile, wrapCommand } from '../transport/command.js';
import type { SshTransport } from '../transport/ssh.js';
import type { ExecOptions } from '../transport/types.js';

const LOGIN_SHELL = raw('exec "${SHELL:-/bin/sh}" -l');

export async function sshCommand(o: CommandOptions, hostName: string | undefined, words: string[]): Promise<CommandResult> {
  const events = o.events ?? new Events();
  const all = await loadStage({ ...o, hosts: undefined });
  let name = hostName;
  if (!name) {
    if (all.hosts.length > 1) {
      process.stdout.write(`${all.hosts.map((h) => h.name).join('\n')}\n`);
      throw new UsageError(`${all.name} has ${all.hosts.length} hosts: name one (ship ssh ${all.name} <host>)`, { hint: `hosts: ${all.hosts.map((h) => h.name).join(', ')}` });
    }
    name = all.hosts[0].name;
  }
  const stage = await loadStage({ ...o, hosts: [name] });
  const command = words.join(' ').trim();
  const ctx = newCtx('ssh', stage, events, o);
  ctx.hosts = await openHosts(ctx);
  const h = ctx.hosts[0];
  try {
    await connect.run(ctx, ctx.hosts);
    const opts = await sessionOptions(ctx, h);
    const script = command ? raw(command) : LOGIN_SHELL;
    const code = h.t.kind === 'ssh' ? await sshSession(h.t as SshTransport, script, opts) : await localSession(script, opts);
    return { exitCode: code as ExitCode };
  } finally {
    await h.t.close().catch(() => {});
  }
}

/** Where the session starts and its environment: SHIP_*, env, and the envFile's values (read here, parsed as dotenv). */
async function sessionOptions(ctx: Ctx, h: HostRun): Promise<ExecOptions> {
  if (h.currentId) {
    h.target = h.currentId;
    return resolveEnvFile((p) => h.t.readFile(p), { cwd: h.paths.current, env: hostEnv(ctx, h), envFile: ctx.stage.envFile });
  }
  const root = await h.t.stat(h.root);
  ctx.events.warn(`nothing deployed yet (no current release): starting in ${root ? h.root : 'the home directory'}`, h.name);
  return { cwd: root ? h.root : undefined, env: hostEnv(ctx, h) };
}

/** Wires the local terminal to a PTY channel until the remote command ends; resolves with its exit code. */
async function sshSession(t: SshTransport, script: Shell, opts: ExecOptions): Promise<number> {
  const stdin = process.stdin;
  const out = process.stdout;
  const ch = await t.openPty(script, { ...opts, rows: out.rows || 24, cols: out.columns || 80, term: process.env.TERM || 'xterm-256color' });
  const raw = stdin.isTTY;
  return new Promise<number>((resolve) => {
    let code: number | undefined;
    const onResize = () => ch.setWindow(out.rows || 24, out.columns || 80, 0, 0);
    const onSigint = () => {}; // with a TTY, ^C goes to the remote side as a byte; without one, ignore it here
    const onData = (d: Buffer) => ch.write(d);
    const onEnd = () => ch.end();
    if (raw) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
    out.on('resize', onResize);
    process.on('SIGINT', onSigint);
    ch.on('data', (d: Buffer) => out.write(d));
    ch.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    ch.on('exit', (c: number | null) => {
      code = typeof c === 'number' ? c : 255;
    });
    ch.on('error', () => {});
    ch.on('close', () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      out.off('resize', onResize);
      process.off('SIGINT', onSigint);
      resolve(code ?? 255);
    });
  });
}

/**
 * The same on this machine: /bin/sh with the same wrapping, on this terminal. The script
 * (env values included) goes in on file descriptor 3, never on a command line; stdin,
 * stdout and stderr are the terminal.
 */
function localSession(script: Shell, opts: ExecOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onSigint = () => {}; // the child, in the foreground on this terminal, gets ^C itself
    process.on('SIGINT', onSigint);
    const child = spawn('/bin/sh', ['-c', BOOTSTRAP_FD3], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
    const input = child.stdio[3] as Writable;
    input.on('error', () => {}); // the shell gone before reading it: its exit says why
    input.end(framed(wrapCommand(script, opts)));
    child.on('error', (e) => {
      process.off('SIGINT', onSigint);
      reject(new ShipError(`cannot start /bin/sh: ${e.message}`));
    });
    child.on('exit', (c) => {
      process.off('SIGINT', onSigint);
      resolve(typeof c === 'number' ? c : 255);
    });
  });
}
