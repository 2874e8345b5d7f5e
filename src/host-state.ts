import type { Ctx, HostRun } from './context.js';
import { CommandError, ShipError } from './errors.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import { parseHistory, type HistoryEntry } from './releases.js';
import { sh } from './shell.js';

/** What the state read learned about a host beyond releases and history. */
export interface HostFacts {
  /** sha256 of the manifests of the current release and of the newest release dir, by id. */
  manifests: Map<string, string>;
  /** Programs found on the host (zstd, gzip). */
  tools: Set<string>;
  /** Free KiB where deployTo lives, when deployTo exists and df answered. */
  freeKb?: number;
}

const facts = new WeakMap<HostRun, HostFacts>();

export function hostFacts(h: HostRun): HostFacts {
  return facts.get(h) ?? { manifests: new Map(), tools: new Set() };
}

// One round trip: current, next, the release dirs, history, the hashes of the manifests a
// deploy may build on, the host's compressors and free disk space. Records are NUL-separated
// `key value` pairs.
const STATE_SCRIPT = `
t=''; for p in zstd gzip; do command -v $p >/dev/null 2>&1 && t="$t $p"; done; printf 'tools\\0%s\\0' "$t"
cd "$0" 2>/dev/null || exit 0
if [ -L current ]; then printf 'current\\0%s\\0' "$(readlink current)"; elif [ -d current ]; then printf 'current-type\\0dir\\0'; elif [ -e current ]; then printf 'current-type\\0file\\0'; fi
if [ -L next ]; then printf 'next\\0%s\\0' "$(readlink next)"; fi
last=''
if [ -d releases ]; then for f in releases/* releases/.[!.]* releases/..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; n=\${f#releases/}; printf 'dir\\0%s\\0' "$n"; case $n in *.partial) ;; *) last=$n;; esac; done; fi
if [ -f .ship/history.jsonl ]; then printf 'history\\0'; cat .ship/history.jsonl; printf '\\0'; fi
cur=$(readlink current 2>/dev/null); cur=\${cur%/}; cur=\${cur##*/}
for id in "$cur" "$last"; do
  m=.ship/manifests/$id.json
  [ -n "$id" ] && [ -f "$m" ] || continue
  s=$( (sha256sum < "$m" || shasum -a 256 < "$m") 2>/dev/null | cut -c1-64) && printf 'manifest\\0%s\\0%s\\0' "$id" "$s"
done
printf 'df\\0%s\\0' "$(df -Pk . 2>/dev/null | tail -n 1)"
`;

/** Reads current, next, the release directories and history of a host (one command). */
export async function readHostState(h: HostRun): Promise<void> {
  const r = await h.t.exec(sh`/bin/sh -c ${STATE_SCRIPT} ${h.root}`, { readOnly: true });
  if (r.code !== 0) throw new CommandError(h.name, `reading the state of ${h.root}`, r);
  const parts = r.stdout.split('\0');
  const f: HostFacts = { manifests: new Map(), tools: new Set() };
  let current: string | null = null;
  let next: string | null = null;
  let currentType: string | undefined;
  const dirs: string[] = [];
  let text = '';
  for (let i = 0; i < parts.length - 1; ) {
    const key = parts[i++];
    const value = parts[i++] ?? '';
    if (key === 'tools') value.split(' ').filter(Boolean).forEach((t) => f.tools.add(t));
    else if (key === 'current') current = value;
    else if (key === 'current-type') currentType = value;
    else if (key === 'next') next = value;
    else if (key === 'dir') dirs.push(value);
    else if (key === 'history') text = value;
    else if (key === 'manifest') f.manifests.set(value, parts[i++] ?? '');
    else if (key === 'df') {
      const kb = Number(value.trim().split(/\s+/)[3]);
      if (Number.isFinite(kb)) f.freeKb = kb;
    }
  }
  if (currentType) {
    throw new ShipError(`${h.name}: ${h.paths.current} is a real ${currentType === 'dir' ? 'directory' : 'file'}, not a symlink`, {
      host: h.name,
      reason: 'current-not-symlink',
      hint: 'ship never replaces it: move it aside (e.g. into releases/<id>) and deploy again',
    });
  }
  facts.set(h, f);
  h.currentId = h.paths.idFromLink(current);
  h.nextId = h.paths.idFromLink(next);
  h.dirs = dirs.sort();
  h.history = parseHistory(text);
}

/**
 * Appends one line to the host's history, through the run's redaction pass (its message
 * is often an error's text: a hook's output). The first line a run writes on a host makes
 * `.ship/` 0700 and history.jsonl 0600 (docs/security.md, "Output and history").
 */
export async function record(ctx: Ctx, h: HostRun, entry: Omit<HistoryEntry, 'time' | 'user'>): Promise<void> {
  const line: HistoryEntry = ctx.events.secrets.scrub({ time: new Date().toISOString(), user: ctx.user, run: runId(ctx), ...entry });
  if (!private_.has(h)) {
    await privateMeta(ctx, h, true);
    private_.add(h);
  }
  await h.t.appendFile(h.paths.history, `${JSON.stringify(line)}\n`);
  h.history.push(line);
}

const private_ = new WeakSet<HostRun>();

/** `.ship/` made (0700) or narrowed to its owner; history.jsonl narrowed to 0600 (created so when `create`). */
export async function privateMeta(ctx: Ctx, h: HostRun, create = false): Promise<void> {
  const m = h.paths.meta;
  const f = h.paths.history;
  const r = await h.t.exec(
    sh`mkdir -p ${path.dirname(m)} || exit 1; umask 077; mkdir -p ${m} || exit 1; if [ -n ${create ? 'y' : ''} ]; then : >> ${f} || exit 1; fi; chmod go-rwx ${m} || exit 2; if [ -e ${f} ]; then chmod go-rwx ${f} || exit 2; fi`,
  );
  if (r.code === 2) ctx.events.warn(`cannot narrow ${h.paths.meta} to 0700 and ${h.paths.history} to 0600 (${r.stderr.trim()}): other users of the host may read the history`, h.name);
  else if (r.code !== 0) throw new CommandError(h.name, `creating ${h.paths.history}`, r);
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

/**
 * What a release of `bytes` needs free on a host, in KiB: its size plus a tenth (file
 * system overhead of many small files) plus 1 MiB for the manifest and metadata. The
 * deploy refuses below it; `ship check` judges by it too.
 */
export function diskNeedKb(bytes: number): number {
  return Math.ceil((bytes * 1.1) / 1024) + 1024;
}

/** Free space (KiB) on the file system holding `dir`, from `df -Pk`; or why it is unknown. */
export async function freeSpace(h: HostRun, dir: string): Promise<{ kb: number } | { error: string }> {
  const r = await h.t.exec(sh`df -Pk ${dir} | tail -n 1`, { readOnly: true });
  const kb = Number(r.stdout.trim().split(/\s+/)[3]);
  if (r.code !== 0 || !Number.isFinite(kb)) return { error: r.stderr.trim() || r.stdout.trim() || `df exited ${r.code}` };
  return { kb };
}

/** Free inodes on the file system holding `dir`, from `df -Pi`; null when it has no fixed count (btrfs, zfs: 0 or '-'). */
export async function freeInodes(h: HostRun, dir: string): Promise<{ free: number; total: number } | null> {
  const r = await h.t.exec(sh`df -Pi ${dir} | tail -n 1`, { readOnly: true });
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
