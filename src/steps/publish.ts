import { forEachHost } from '../context.js';
import { InternalError } from '../errors.js';
import { record } from '../host-state.js';
import type { Step } from './types.js';

/**
 * Renames releases/<id>.partial to releases/<id>: from now on the release is complete on
 * disk (not live: the switch makes it live). The step keeps the name `publish` because
 * hooks name it (`after:publish`); its description says what it does.
 */
export const publish: Step = {
  name: 'publish',
  description: 'complete the release on disk: rename releases/<id>.partial to releases/<id> (not live yet)',
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
