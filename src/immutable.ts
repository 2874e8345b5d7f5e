import type { Ctx, HostRun } from './context.js';

/**
 * A published release is never written again. Unchanged files of a new release are hard
 * links of the previous release's files (the same inodes), so writing into one of them
 * from the new release (a hook that appends, or truncates with `>`) would change the
 * live release too. ship therefore clears the write bits of every regular file of a
 * release as soon as its files are in place (by the same command that unpacks the
 * release, src/reuse.ts, before any hook of the release runs): a write into a file fails with "Permission denied", while replacing a
 * file (write a new one, then `mv` it over; `sed -i` does this) and adding files still
 * work, because directories stay writable. Files ship writes later (REVISION) are
 * created read-only.
 *
 * Manifests keep the build's modes (what reuse compares); on the host the same modes
 * have their write bits cleared.
 *
 * Not covered: a deploy user that is root ignores permission bits (ship warns), and a
 * hook that chmods a file back on purpose.
 */
export function warnIfRoot(ctx: Ctx, h: HostRun, uid: string | undefined): void {
  if (uid?.trim() === '0' && ctx.stage.reuse !== 'copy') {
    ctx.events.warn(
      `ship logs in as root here: read-only files do not stop root's hooks from writing into files this release shares with the live one (use a deploy user, or reuse: copy)`,
      h.name,
    );
  }
}

/** The reason behind a hook's "Permission denied": the files of a release are read-only. */
export function readOnlyHint(stderr: string): string | undefined {
  if (!/permission denied|read-only/i.test(stderr)) return undefined;
  return (
    'the files of a release are read-only (unchanged files are shared with the live release): ' +
    'write a new file and mv it over the old one instead of writing into it'
  );
}
