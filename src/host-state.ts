import type { Ctx, HostRun } from './context.js';
import { ShipError } from './errors.js';
import { parseHistory, releaseInfos, type HistoryEntry } from './releases.js';

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
  const line: HistoryEntry = { time: new Date().toISOString(), user: ctx.user, ...entry };
  await h.t.mkdirp(h.paths.meta);
  await h.t.appendFile(h.paths.history, `${JSON.stringify(line)}\n`);
  h.history.push(line);
}
