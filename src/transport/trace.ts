/**
 * `--verbose`: a Transport that reports each remote command it runs (and each change it
 * makes to the host's files) as a `command` event: host, the command as given (never the
 * env/cd wrapping), exit code, time, and what it printed. Steps never see the difference.
 *
 * Secrets: the values of the variables a command gets (ExecOptions.env, and the envFile's,
 * ship's own SHIP_* excepted) are the run's secrets (src/transport/secrets.ts); the one
 * redaction pass every event goes through (src/redact.ts) replaces them by `<redacted>`
 * and strips URL credentials and control characters. The output is passed through it
 * before it is clipped, so a cut never leaves half a secret.
 */
import { Buffer } from 'node:buffer';
import type { Events } from '../events.js';
import type { Shell } from '../shell.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

/** Output kept per stream in an event (the rest is counted, not shown). */
const MAX_OUTPUT = 16_384;

/** The one redaction function, for callers that have a list of values (src/redact.ts). */
export { redactText } from '../redact.js';

function clip(text: string): string {
  const b = Buffer.byteLength(text);
  return b <= MAX_OUTPUT ? text : `${Buffer.from(text).subarray(0, MAX_OUTPUT).toString('utf8')}\n… ${b - MAX_OUTPUT} more bytes`;
}

/** `t`, reporting what it runs to `events` (see above). */
export function traceTransport(t: Transport, events: Events): Transport {
  const emit = (kind: 'exec' | 'file', command: string, started: number, code: number | null, stdout = '', stderr = '') =>
    events.emit({
      type: 'command',
      host: t.name,
      kind,
      command,
      code,
      ms: Date.now() - started,
      stdout: clip(events.secrets.text(stdout)),
      stderr: clip(events.secrets.text(stderr)),
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
      events.secrets.addEnv(opts?.env);
      for (const v of opts?.redact ?? []) events.secrets.add(v);
      try {
        const r = await t.exec(command, opts);
        emit('exec', r.command, started, r.code, r.stdout, r.stderr);
        return r;
      } catch (e) {
        emit('exec', command.text, started, null, '', (e as Error).message);
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
