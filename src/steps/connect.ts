import path from 'node:path/posix';
import type { HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { ShipError } from '../errors.js';
import { missingSharedFiles, readHostState } from '../host-state.js';
import { nextReleaseId, Paths } from '../paths.js';
import { openTransport } from '../transport/read-only.js';
import type { Step } from './types.js';

/** Opens every host (verifying its key), reads its releases, and checks what must hold first. */
export const connect: Step = {
  name: 'connect',
  description: 'connect to every host and read its state',
  async run(ctx) {
    await forEachHost(ctx, 'connect', ctx.hosts, async (h) => {
      await h.t.connect();
      h.connected = true;
      if (h.cfg.deployTo.startsWith('~/')) {
        h.root = path.join(await h.t.home(), h.cfg.deployTo.slice(2));
        h.paths = new Paths(h.root);
      }
      h.cwd = h.root;
      await readHostState(h);
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

/** HostRuns for the stage's hosts, not yet connected. */
export async function openHosts(ctx: import('../context.js').Ctx): Promise<HostRun[]> {
  return Promise.all(
    ctx.stage.hosts.map(async (cfg) => {
      const t = await openTransport(ctx, cfg);
      const paths = new Paths(cfg.deployTo);
      return {
        cfg,
        name: cfg.name,
        t,
        root: cfg.deployTo,
        paths,
        history: [],
        dirs: [],
        infos: [],
        lockHeld: false,
        published: false,
        cwd: cfg.deployTo,
      } satisfies HostRun;
    }),
  );
}
