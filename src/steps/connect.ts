import { forEachHost } from '../context.js';
import { connectHost } from '../hosts.js';
import type { Step } from './types.js';

/** Opens every host (verifying its key) and reads its releases, `current`, `next` and history. */
export const connect: Step = {
  name: 'connect',
  description: 'connect to every host and read its state',
  async run(ctx) {
    await forEachHost(ctx, 'connect', ctx.hosts, (h) => connectHost(h));
  },
};
