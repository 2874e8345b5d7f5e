import { forEachHost, runUserCommand } from '../context.js';
import type { Step } from './types.js';

/** Runs the `reload` command on each flipped host, in the release now live. */
export const reload: Step = {
  name: 'reload',
  description: 'reload the app / web server',
  skip: (ctx) => (ctx.stage.reload ? undefined : 'not configured'),
  async run(ctx, hosts) {
    const cmd = ctx.stage.reload;
    if (!cmd) return;
    await forEachHost(ctx, 'reload', hosts, async (h) => {
      await runUserCommand(ctx, h, cmd, `reload (${cmd})`, h.paths.current);
    });
  },
  async preview() {},
};
