/**
 * Rules across fields of one stage, checked after the schema (shape and types) and after
 * normalizing (merged stage, shared paths cleaned, hosts resolved). Each returns the
 * problems it finds, by key path; load.ts reports them all together.
 */
import type { ConfigProblem } from '../errors.js';
import { hookableSteps } from '../flows.js';
import { BEFORE_CONNECT_HOOKS } from '../hooks.js';
import { atOrUnder } from '../paths.js';
import { staleAfterFloorMs } from '../lock.js';
import { fmtMs } from '../reporters/format.js';


/** Hook names are `before:`/`after:` a step of some flow, or drain, undrain, failed; early hooks are local. */
export function hookRules(hooks: Record<string, string | string[]>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const steps = hookableSteps();
  for (const [key, value] of Object.entries(hooks)) {
    const m = /^(before|after):(.+)$/.exec(key);
    const ok = ['drain', 'undrain', 'failed'].includes(key) || (m && steps.includes(m[2]));
    if (!ok) problems.push({ path: `hooks.${key}`, message: 'unknown hook', hint: `use before:<step>, after:<step>, drain, undrain or failed; steps: ${steps.join(', ')}` });
    if (!BEFORE_CONNECT_HOOKS.includes(key)) continue;
    (Array.isArray(value) ? value : [value]).forEach((cmd, i) => {
      if (!cmd.startsWith('local:')) {
        problems.push({ path: `hooks.${key}.${i}`, message: 'a host command cannot run here: the hosts are not connected yet', hint: 'prefix it with local: to run it on the deployer' });
      }
    });
  }
  return problems;
}

/** No shared path lies inside another (or is listed twice). */
export function sharedRules(paths: string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const all = paths.map((p) => p.replace(/\/+$/, ''));
  all.forEach((a, i) =>
    all.forEach((b, j) => {
      if (i < j && (atOrUnder(b, a) || atOrUnder(a, b))) {
        problems.push({ path: 'shared', message: `shared paths '${a}' and '${b}' overlap`, hint: 'list each shared path once, none inside another' });
      }
    }),
  );
  return problems;
}

/** Host names are unique within a stage (output and --hosts go by them). */
export function hostNameRules(names: string[], at: (k: string) => string): ConfigProblem[] {
  const seen = new Set<string>();
  return names.flatMap((n, i) => {
    const dup = seen.has(n);
    seen.add(n);
    return dup ? [{ path: at(`hosts.${i}`), message: `host name '${n}' is used twice`, hint: 'give hosts with the same address a distinct `name`' }] : [];
  });
}

/** `lock.staleAfter` is at least its floor: 10 s, and four heartbeats (docs/locks.md). */
export function lockRules(staleAfterMs: number, key: string): ConfigProblem[] {
  const floor = staleAfterFloorMs(staleAfterMs);
  if (staleAfterMs >= floor) return [];
  return [{ path: key, message: `${fmtMs(staleAfterMs)} is too short: a live lock would look stale after a slow heartbeat or two`, hint: `at least ${fmtMs(floor)}, e.g. '30s'` }];
}
