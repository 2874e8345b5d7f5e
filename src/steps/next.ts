import { forEachHost } from '../context.js';
import { InternalError } from '../errors.js';
import { flipLink } from '../flip.js';
import type { Step } from './types.js';

/**
 * `ship deploy --no-switch`: points `next` at the published release on every host
 * (atomic rename, as for `current`), leaving `current` and the app alone. `ship switch`
 * makes it live later; prune never removes what `next` points at.
 */
export const pointNext: Step = {
  name: 'next',
  description: 'point next at the release (current stays)',
  async run(ctx, hosts) {
    const id = ctx.release;
    if (!id) throw new InternalError('next without a release');
    await forEachHost(ctx, 'next', hosts, async (h) => {
      await flipLink(h, id, 'next');
      h.nextId = id;
      return `next -> ${id}${h.currentId ? ` (current stays ${h.currentId})` : ''}`;
    });
    ctx.events.log(`${id} is staged as next; make it live with: ship switch ${ctx.stage.name}`);
  },
  async preview(ctx, hosts) {
    for (const h of hosts) ctx.events.log(`would point next -> ${ctx.release}`, h.name);
  },
};
