import type { HostRun } from '../context.js';
import { ShipError } from '../errors.js';
import type { Step } from './types.js';
import { checkNamedRelease, hostReleases, SWITCHABLE } from '../releases.js';


/**
 * Chooses what `ship switch` makes live: the named release (any one ship published that
 * did not fail), else what `next` points at (the newest such, when hosts differ), else,
 * after a paused canary with no `next`, the release the canary hosts are on (the newest
 * current one). Hosts already on it are left alone by the rollout.
 */
export const promote: Step = {
  name: 'promote',
  description: 'choose the release to make live',
  async run(ctx, hosts) {
    const named = ctx.opts.to;
    let target: string;
    if (named !== undefined) {
      checkNamedRelease(hosts, named, ctx.stage.name);
      target = named;
    } else {
      const staged = hosts.map((h) => h.nextId).filter((x): x is string => !!x).sort();
      const currents = [...new Set(hosts.map((h) => h.currentId).filter((x): x is string => !!x))].sort();
      if (staged.length) {
        target = staged[staged.length - 1];
        ctx.events.log(`promoting next (${target}, staged on ${hosts.filter((h) => h.nextId === target).map((h) => h.name).join(', ')})`);
        if (hosts.some((h) => h.nextId && h.nextId !== target)) ctx.events.warn(`hosts disagree on next; taking the newest, ${target}`);
      } else if (currents.length > 1) {
        target = currents[currents.length - 1];
        ctx.events.log(`no next; hosts disagree on current (a paused canary): completing the rollout of ${target}`);
      } else {
        throw new ShipError(`nothing to switch: no host of ${ctx.stage.name} has a staged release (next)`, {
          reason: 'no-target',
          hint: `stage one with: ship deploy ${ctx.stage.name} --no-switch, or name a release: ship switch ${ctx.stage.name} <release>`,
        });
      }
      for (const h of hosts) checkImplicit(h, target, ctx.stage.name);
    }
    for (const h of hosts) {
      h.target = target;
      h.cwd = h.paths.release(target);
    }
    ctx.release = target;
  },
};

function checkImplicit(h: HostRun, target: string, stage: string): void {
  const info = hostReleases(h).find((r) => r.id === target);
  if (!info) {
    throw new ShipError(`${h.name}: release ${target} is not on this host`, {
      host: h.name,
      reason: 'release-missing',
      hint: `deploy it there first, or limit the switch: ship switch ${stage} --hosts <names>`,
    });
  }
  if (!SWITCHABLE.has(info.state)) {
    throw new ShipError(`${h.name}: release ${target} is ${info.state} and cannot be made live`, {
      host: h.name,
      reason: 'release-failed',
      hint: `deploy a fixed build instead; see: ship releases ${stage}`,
    });
  }
}
