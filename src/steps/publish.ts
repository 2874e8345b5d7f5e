import { forEachHost } from '../context.js';
import { InternalError } from '../errors.js';
import { record } from '../host-state.js';
import type { Step } from './types.js';

/** Renames releases/<id>.partial to releases/<id>: from now on the release is complete. */
export const publish: Step = {
  name: 'publish',
  description: 'publish the release (rename .partial away)',
  async run(ctx, hosts) {
    const id = ctx.release;
    if (!id) throw new InternalError('publish without a release');
    await forEachHost(ctx, 'publish', hosts, async (h) => {
      await h.t.rename(h.paths.partial(id), h.paths.release(id));
      h.published = true;
      h.cwd = h.paths.release(id);
      h.dirs = [...h.dirs, id];
      await record(ctx, h, { action: 'publish', release: id, revision: ctx.build?.revision, ...(ctx.build?.dirty ? { dirty: true } : {}), states: { [id]: 'staged' } });
    });
  },
  async preview() {},
};
