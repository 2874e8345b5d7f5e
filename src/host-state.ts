import type { Ctx, HostRun } from './context.js';
import { ShipError } from './errors.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import { parseHistory, releaseInfos, type HistoryEntry } from './releases.js';
import { sh } from './shell.js';

/** Reads current, next, the release directories and history of a host. */
export async function readHostState(h: HostRun): Promise<void> {
  const cur = await h.t.stat(h.paths.current);
  if (cur && cur.type !== 'symlink') {
    throw new ShipError(`${h.name}: ${h.paths.current} is a real ${cur.type === 'dir' ? 'directory' : 'file'}, not a symlink`, {
      host: h.name,
      reason: 'current-not-symlink',
      hint: 'ship never replaces it: move it aside (e.g. into releases/<id>) and deploy again',
    });
  }
  h.currentId = h.paths.idFromLink(await h.t.readlink(h.paths.current));
  h.nextId = h.paths.idFromLink(await h.t.readlink(h.paths.next));
  h.dirs = await h.t.list(h.paths.releases);
  const text = (await h.t.readFile(h.paths.history))?.toString('utf8') ?? '';
  h.history = parseHistory(text);
  h.infos = releaseInfos(h.history, h.dirs, h.currentId);
}

/** Appends one line to the host's history. */
export async function record(ctx: Ctx, h: HostRun, entry: Omit<HistoryEntry, 'time' | 'user'>): Promise<void> {
  if (ctx.opts.dryRun) return;
  const line: HistoryEntry = { time: new Date().toISOString(), user: ctx.user, run: runId(ctx), ...entry };
  await h.t.mkdirp(h.paths.meta);
  await h.t.appendFile(h.paths.history, `${JSON.stringify(line)}\n`);
  h.history.push(line);
}

const runIds = new WeakMap<Ctx, string>();

/** An id for the run, shared by every history line it writes (ship history groups by it). */
export function runId(ctx: Ctx): string {
  let id = runIds.get(ctx);
  if (!id) runIds.set(ctx, (id = `${ctx.startedAt.toISOString()}-${randomBytes(3).toString('hex')}`));
  return id;
}

/** The `shared.files` entries that are not a file (or link) in the host's shared/. */
export async function missingSharedFiles(h: HostRun, files: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const f of files) {
    const s = await h.t.stat(path.join(h.paths.shared, f));
    if (!s || s.type === 'dir') missing.push(f);
  }
  return missing;
}

/** Free space (KiB) on the file system holding `dir`, from `df -Pk`; or why it is unknown. */
export async function freeSpace(h: HostRun, dir: string): Promise<{ kb: number } | { error: string }> {
  const r = await h.t.exec(sh`df -Pk ${dir} | tail -n 1`);
  const kb = Number(r.stdout.trim().split(/\s+/)[3]);
  if (r.code !== 0 || !Number.isFinite(kb)) return { error: r.stderr.trim() || r.stdout.trim() || `df exited ${r.code}` };
  return { kb };
}

/** Free inodes on the file system holding `dir`, from `df -Pi`; null when it has no fixed count (btrfs, zfs: 0 or '-'). */
export async function freeInodes(h: HostRun, dir: string): Promise<{ free: number; total: number } | null> {
  const r = await h.t.exec(sh`df -Pi ${dir} | tail -n 1`);
  const fields = r.stdout.trim().split(/\s+/);
  const total = Number(fields[1]);
  const free = Number(fields[3]);
  if (r.code !== 0 || !Number.isFinite(total) || !Number.isFinite(free) || total <= 0) return null;
  return { free, total };
}

/** Refuses before writing when the host's file system cannot hold `count` more files (inodes). */
export async function checkInodes(h: HostRun, dir: string, count: number): Promise<void> {
  const inodes = await freeInodes(h, dir);
  if (!inodes) return;
  const need = count + 64;
  if (inodes.free < need) {
    throw new ShipError(`${h.name}: not enough inodes in ${dir}: ${inodes.free} free, the release has ${count} files and directories`, {
      host: h.name,
      reason: 'disk-full',
      hint: `free inodes on ${h.name} (e.g. ship prune <stage> --keep 2, or remove many small files), then deploy again`,
    });
  }
}
