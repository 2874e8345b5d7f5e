import { lockAll } from '../lock.js';
import type { Step } from './types.js';

/** `.ship/lock` on every host, created exclusively, with this run's token; a heartbeat keeps it live until unlock. */
export const lock: Step = {
  name: 'lock',
  description: 'lock every host',
  async run(ctx) {
    await lockAll(ctx);
  },
  /** A dry run takes no lock: it writes nothing, so it waits for nobody. */
  async preview() {},
};
