import path from 'node:path/posix';
import { forEachHost, type HostRun } from '../context.js';
import { ShipError } from '../errors.js';
import { missingSharedFiles } from '../host-state.js';
import { nextReleaseId } from '../paths.js';
import type { Step } from './types.js';

/**
 * A deploy's new release: every shared file it will link must be on every host, then
 * the id is chosen — the deploy's start time, made unique against every release dir and
 * history line of every host — and becomes each host's target.
 */
export const release: Step = {
  name: 'release',
  description: 'check the shared files and choose the new release id',
  async run(ctx) {
    const files = ctx.stage.shared.files;
    if (files.length) await forEachHost(ctx, 'release', ctx.hosts, (h) => checkSharedFiles(files, h, ctx.stage.name));
    const taken = ctx.hosts.flatMap((h) => [...h.dirs.map((d) => d.replace(/\.partial$/, '')), ...h.history.map((e) => e.release ?? '')]);
    ctx.release = nextReleaseId(ctx.opts.now?.() ?? new Date(), taken);
    for (const h of ctx.hosts) h.target = ctx.release;
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
