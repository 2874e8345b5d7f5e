import path from 'node:path/posix';
import type { HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { ShipError } from '../errors.js';
import { missingSharedFiles } from '../host-state.js';
import { connectHost } from '../hosts.js';
import { nextReleaseId } from '../paths.js';
import type { Step } from './types.js';

/** Opens every host (verifying its key), reads its releases, and checks what must hold first. */
export const connect: Step = {
  name: 'connect',
  description: 'connect to every host and read its state',
  async run(ctx) {
    await forEachHost(ctx, 'connect', ctx.hosts, async (h) => {
      await connectHost(h);
      if (ctx.command === 'deploy') await checkSharedFiles(ctx.stage.shared.files, h, ctx.stage.name);
    });
    if (ctx.command === 'deploy') {
      const taken = ctx.hosts.flatMap((h) => [
        ...h.dirs.map((d) => d.replace(/\.partial$/, '')),
        ...h.history.map((e) => e.release ?? ''),
      ]);
      ctx.release = nextReleaseId(ctx.opts.now?.() ?? new Date(), taken);
      for (const h of ctx.hosts) h.target = ctx.release;
    }
  },
};

async function checkSharedFiles(files: string[], h: HostRun, stage: string): Promise<void> {
  const missing = await missingSharedFiles(h, files);
  if (missing.length) {
    throw new ShipError(`${h.name}: shared file${missing.length > 1 ? 's' : ''} missing: ${missing.map((f) => path.join(h.paths.shared, f)).join(', ')}`, {
      host: h.name,
      reason: 'shared-file-missing',
      hint: `upload ${missing.length > 1 ? 'them' : 'it'} with: ship setup ${stage} --upload ${missing[0]}=<local file> (or list ${missing.length > 1 ? 'them' : 'it'} in shared.upload), then deploy again`,
    });
  }
}
