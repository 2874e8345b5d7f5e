/**
 * Every transport of a run is wrapped in this: before a command runs, the values it is
 * given (ExecOptions.env) and the values of its envFile (read here, once, and passed on as
 * env) become the run's secrets, which the one redaction pass hides from every event,
 * error and history line (src/redact.ts, docs/security.md "Output and history").
 */
import type { Secrets } from '../redact.js';
import type { Shell } from '../shell.js';
import { resolveEnvFile } from './command.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

export function secretsTransport(t: Transport, secrets: Secrets): Transport {
  const exec = async (command: Shell, opts: ExecOptions = {}): Promise<ExecResult> => {
    secrets.addEnv(opts.env);
    for (const v of opts.redact ?? []) secrets.add(v);
    const o = opts.envFile ? await resolveEnvFile((p) => t.readFile(p), opts) : opts;
    secrets.addEnv(o.env);
    return t.exec(command, o);
  };
  // Everything else (the SSH transport's terminal sessions for `ship ssh` included) is the real one's.
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'exec') return exec;
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
