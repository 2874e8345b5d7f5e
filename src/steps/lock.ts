import { lockAll } from '../lock.js';
import type { Step } from './types.js';

/** `.ship/lock` on every host, created exclusively (section 1, section 8). */
export const lock: Step = {
  name: 'lock',
  description: 'lock every host',
  async run(ctx) {
    if (ctx.opts.dryRun) return;
    await lockAll(ctx);
  },
};
