import { forEachHost } from '../context.js';
import { checkHealth } from '../health.js';
import type { Step } from './types.js';

/** Checks each flipped host's health URL, from the host, through its SSH connection. */
export const health: Step = {
  name: 'health',
  description: 'check health on each host',
  skip: (ctx, hosts) => (hosts.some((h) => h.cfg.healthcheck) ? undefined : 'not configured'),
  async run(ctx, hosts) {
    const checked = hosts.filter((h) => h.cfg.healthcheck && h.target);
    if (!checked.length) return;
    await forEachHost(ctx, 'health', checked, (h) => checkHealth(ctx, h, h.target!));
  },
  /** Nothing was switched: nothing new to check. */
  async preview() {},
};
