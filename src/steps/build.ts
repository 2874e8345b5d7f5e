import { localCacheDir } from '../context.js';
import { withoutShared } from '../build.js';
import { CommandError } from '../errors.js';
import { raw } from '../shell.js';
import { applyHashCache, hashCacheFile, startHashing, walkBuild } from '../scan.js';
import { runSh } from '../transport/local.js';
import { wrapCommand } from '../transport/command.js';
import type { Step } from './types.js';

/**
 * Runs build.command on the deployer, once, then reads the build directory. Hashing what
 * the local cache does not hold goes on in the background; upload waits for it.
 */
export const build = {
  name: 'build',
  description: 'run the build command and read the build directory',
  /** The build command is not run (it may write anything); the build directory is read as it is. */
  preview: (ctx, hosts): Promise<void> => build.run(ctx, hosts, true),
  async run(ctx, _hosts, preview = false) {
    const b = ctx.stage.build;
    if (b.command) {
      if (preview) ctx.events.log(`would run: ${b.command}`);
      else {
        const r = await runSh(wrapCommand(raw(b.command), { cwd: b.cwd ?? ctx.stage.configDir }), b.command);
        if (r.code !== 0) throw new CommandError('local', `build command (${b.command})`, r, 'fix the build, then deploy again');
      }
    }
    const shared = [...ctx.stage.shared.dirs, ...ctx.stage.shared.files];
    const cacheDir = localCacheDir(ctx);
    // git answers while the build directory is read (a revision is optional: a git that
    // cannot run gives none, and is never left to fail unheard).
    const given = process.env.SHIP_REVISION;
    const revision = given ? Promise.resolve(given) : gitRevision(ctx.stage.configDir).catch(() => undefined);
    const dirty = given ? Promise.resolve(false) : gitDirty(b.cwd ?? ctx.stage.configDir).catch(() => false);
    ctx.build = withoutShared(await walkBuild(b.dir, { ...b, skip: cacheDir }), shared);
    const hits = await applyHashCache(ctx.build, hashCacheFile(cacheDir, b.dir));
    startHashing(ctx.build);
    ctx.events.debug(`build: ${hits} of ${ctx.build.files.length} hashes from the local cache`);
    ctx.build.revision = await revision;
    if (ctx.build.revision && (await dirty)) {
      ctx.build.dirty = true;
      ctx.events.warn(`the git work tree has uncommitted changes: the release is ${ctx.build.revision.slice(0, 12)} plus them (recorded as dirty)`);
    }
    ctx.events.debug(`build: ${ctx.build.files.length} files, ${ctx.build.bytes} bytes`);
  },
} satisfies Step;

/** Uncommitted changes (tracked or untracked, not ignored) in the work tree. */
async function gitDirty(dir: string): Promise<boolean> {
  const r = await runSh(wrapCommand(raw('git status --porcelain 2>/dev/null'), { cwd: dir }), 'git status');
  return r.code === 0 && r.stdout.trim() !== '';
}

async function gitRevision(dir: string): Promise<string | undefined> {
  const r = await runSh(wrapCommand(raw('git rev-parse HEAD 2>/dev/null'), { cwd: dir }), 'git rev-parse HEAD');
  const sha = r.stdout.trim();
  return r.code === 0 && /^[0-9a-f]{7,64}$/.test(sha) ? sha : undefined;
}
