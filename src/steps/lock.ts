import { lockAll } from '../lock.js';
import type { Step } from './types.js';

/** `.ship/lock` on every host, created exclusively, with this run's token; a heartbeat keeps it live until unlock. */
export const lock: Step = {
  name: 'lock',
  description: 'lock every host',
  async run(ctx) {
    if (ctx.opts.dryRun) return;
    await lockAll(ctx);
  },
};
