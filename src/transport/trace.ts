/**
 * `--verbose`: a Transport that reports each remote command it runs (and each change it
 * makes to the host's files) as a `command` event: host, the command as given (never the
 * env/cd wrapping), exit code, time, and what it printed. Steps never see the difference.
 *
 * Secrets: the values of the variables a command gets (ExecOptions.env, and the envFile's,
 * ship's own SHIP_* excepted) are replaced by `<redacted>` wherever they appear in the
 * command or its output, and URLs lose their credentials and query values (redact.ts).
 */
import { Buffer } from 'node:buffer';
import type { Events } from '../events.js';
import { redactUrls, REDACTED } from '../redact.js';
import type { Shell } from '../shell.js';
import { resolveEnvFile } from './command.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

/** Output kept per stream in an event (the rest is counted, not shown). */
const MAX_OUTPUT = 16_384;

/** Values worth hiding: not ship's own SHIP_* values, not so short they would blank out ordinary text. */
function secretValues(env: Record<string, string> | undefined, extra: string[] = []): string[] {
  return [
    ...Object.entries(env ?? {})
      .filter(([k, v]) => (!k.startsWith('SHIP_') || k === 'SHIP_HEALTH_TOKEN') && v.length >= 3)
      .map(([, v]) => v),
    ...extra.filter((v) => v.length >= 3),
  ].sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: string[]): string {
  let s = text;
  for (const v of secrets) s = s.split(v).join(REDACTED);
  return redactUrls(s);
}

function clip(text: string): string {
  const b = Buffer.byteLength(text);
  return b <= MAX_OUTPUT ? text : `${Buffer.from(text).subarray(0, MAX_OUTPUT).toString('utf8')}\n… ${b - MAX_OUTPUT} more bytes`;
}

/** `t`, reporting what it runs to `events` (see above). */
export function traceTransport(t: Transport, events: Events): Transport {
  const emit = (kind: 'exec' | 'file', command: string, started: number, code: number | null, stdout = '', stderr = '', secrets: string[] = []) =>
    events.emit({
      type: 'command',
      host: t.name,
      kind,
      command: redactText(command, secrets),
      code,
      ms: Date.now() - started,
      stdout: clip(redactText(stdout, secrets)),
      stderr: clip(redactText(stderr, secrets)),
    });
  /** A change to the host's files, shown as the operation and its paths. */
  const op = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      const r = await fn();
      emit('file', what, started, 0);
      return r;
    } catch (e) {
      emit('file', what, started, null, '', (e as Error).message);
      throw e;
    }
  };
  const traced: Transport = {
    name: t.name,
    kind: t.kind,
    connect: () => t.connect(),
    home: () => t.home(),
    async exec(command: Shell, opts?: ExecOptions): Promise<ExecResult> {
      const started = Date.now();
      const extra = opts?.redact ?? [];
      let secrets = secretValues(opts?.env, extra);
      try {
        const r = await t.exec(command, opts);
        if (opts?.envFile) secrets = secretValues((await resolveEnvFile((p) => t.readFile(p), opts).catch(() => opts)).env, extra);
        emit('exec', r.command, started, r.code, r.stdout, r.stderr, secrets);
        return r;
      } catch (e) {
        emit('exec', command.text, started, null, '', (e as Error).message, secrets);
        throw e;
      }
    },
    readFile: (p) => t.readFile(p),
    writeFile: (p, data, o) => op(`write ${p} (${Buffer.byteLength(data)} bytes${o?.exclusive ? ', exclusive' : ''})`, () => t.writeFile(p, data, o)),
    appendFile: (p, data) => op(`append ${p} (${Buffer.byteLength(data)} bytes)`, () => t.appendFile(p, data)),
    mkdirp: (p) => op(`mkdir -p ${p}`, () => t.mkdirp(p)),
    remove: (p) => op(`rm -rf ${p}`, () => t.remove(p)),
    stat: (p) => t.stat(p),
    readlink: (p) => t.readlink(p),
    symlink: (target, p) => op(`ln -s ${target} ${p}`, () => t.symlink(target, p)),
    rename: (from, to) => op(`rename ${from} -> ${to}`, () => t.rename(from, to)),
    list: (d) => t.list(d),
    forward: (port, address) => t.forward(port, address),
    renameMethod: () => t.renameMethod(),
    cancel: () => t.cancel(),
    close: () => t.close(),
  };
  // What a transport has beyond the interface (the SSH one's terminal sessions for `ship ssh`) is the real one's, untraced.
  return new Proxy(traced, {
    get(target, prop, receiver) {
      if (prop in target) return Reflect.get(target, prop, receiver);
      const v = Reflect.get(t, prop);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}
