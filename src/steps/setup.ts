/**
 * `ship setup`: prepares each host's tree (deployTo, releases/, shared/ with its dirs,
 * .ship/) and uploads shared files from the deployer. Three steps:
 *
 *   setup:local    reads the local files (before any host is contacted: a missing one is exit 2)
 *   setup:inspect  notes what each host lacks (before the lock creates .ship/)
 *   setup          creates what is missing and uploads, under the lock
 *
 * Uploads are written to a temp name in the same directory, then renamed over the
 * target. An existing file with the same bytes is left alone; one that differs is left
 * alone too unless --force, which first copies it to `<name>.<timestamp>.bak` (mode 0600).
 * A file left alone because it differs makes the run exit 1 once every host is done.
 * Modes (docs/security.md, "ship setup: file modes"): the remote mode is never wider than
 * the local file's; files holding secrets (`.env*`, or marked) are 0600 at most, others
 * 0644 (0755 when executable) at most. A target that is a symlink and differs is refused
 * in setup:inspect, before anything is written on any host. A second run finds everything
 * in place and writes nothing (not even a history line).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path/posix';
import { isSecretName } from '../config/load.js';
import type { Ctx, HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { ShipError, UsageError } from '../errors.js';
import { privateMeta, record } from '../host-state.js';
import { timestampId } from '../paths.js';
import { FileExistsError } from '../transport/types.js';
import type { Step } from './types.js';

interface LocalFile {
  /** Path inside shared/. */
  name: string;
  from: string;
  secret: boolean;
  data: Buffer;
  mode: number;
}

interface SetupState {
  files: LocalFile[];
  /** Per host: the directories (relative to deployTo) missing before the lock. */
  missing: Map<string, Set<string>>;
}

const states = new WeakMap<Ctx, SetupState>();

function state(ctx: Ctx): SetupState {
  let s = states.get(ctx);
  if (!s) states.set(ctx, (s = { files: [], missing: new Map() }));
  return s;
}

/** What a host has done, for the report and for tests. */
export interface SetupReport {
  host: string;
  created: string[];
  uploaded: string[];
  replaced: { name: string; backup: string }[];
  unchanged: string[];
  kept: string[];
}

const reports = new WeakMap<Ctx, SetupReport[]>();
export function setupReports(ctx: Ctx): SetupReport[] {
  return reports.get(ctx) ?? [];
}

export const setupLocal: Step = {
  name: 'setup:local',
  description: 'read the files to upload',
  async run(ctx) {
    const byName = new Map<string, { from: string; secret: boolean }>();
    for (const [name, u] of Object.entries(ctx.stage.shared.upload ?? {})) byName.set(name, u);
    for (const u of ctx.opts.uploads ?? []) {
      const name = u.name.replace(/^\.\/+/, '');
      if (!name || name.startsWith('/') || name.split('/').includes('..')) {
        throw new UsageError(`--upload ${u.name}=…: the name must be a path inside shared/ (relative, no ..)`);
      }
      byName.set(name, { from: u.from, secret: u.secret ?? byName.get(name)?.secret ?? isSecretName(name) });
    }
    const files: LocalFile[] = [];
    for (const [name, u] of [...byName].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let data: Buffer;
      let mode: number;
      try {
        const st = statSync(u.from);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
        data = readFileSync(u.from);
        mode = st.mode;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(`cannot read ${u.from} (to upload as shared/${name}): ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
          hint: 'local paths in shared.upload are relative to the config file; on the command line, to the working directory',
        });
      }
      files.push({ name, from: u.from, secret: u.secret, data, mode: uploadMode(mode, u.secret) });
    }
    state(ctx).files = files;
  },
};

/**
 * The mode a shared file is created with: never wider than the local file's (a local 0600
 * stays 0600), at most 0600 for secrets and 0644 (0755 when executable) for the rest.
 * The owner may always read and write it.
 */
export function uploadMode(localMode: number, secret: boolean): number {
  const cap = secret ? 0o600 : localMode & 0o111 ? 0o755 : 0o644;
  return (0o600 | (localMode & 0o777)) & cap;
}

/** The directories setup makes sure of, relative to deployTo, parents first. */
function wantedDirs(ctx: Ctx, files: LocalFile[]): string[] {
  const dirs = ['.', 'releases', 'shared', '.ship'];
  const add = (d: string) => {
    const parts = d.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = path.join('shared', ...parts.slice(0, i));
      if (!dirs.includes(p)) dirs.push(p);
    }
  };
  for (const d of ctx.stage.shared.dirs) add(d.replace(/\/+$/, ''));
  for (const f of [...ctx.stage.shared.files, ...files.map((x) => x.name)]) {
    const parent = path.dirname(f);
    if (parent !== '.') add(parent);
  }
  return dirs;
}

export const setupInspect: Step = {
  name: 'setup:inspect',
  description: 'see what each host lacks',
  async run(ctx, hosts) {
    const s = state(ctx);
    const wanted = wantedDirs(ctx, s.files);
    await forEachHost(ctx, 'inspect', hosts, async (h) => {
      const missing = new Set<string>();
      for (const d of wanted) {
        const st = await h.t.stat(path.join(h.root, d));
        if (!st) missing.add(d);
        else if (st.type !== 'dir' && st.type !== 'symlink') {
          throw new ShipError(`${h.name}: ${path.join(h.root, d)} is a ${st.type === 'file' ? 'file' : 'special file'}, where setup needs a directory`, {
            host: h.name,
            reason: 'setup',
            hint: 'move it aside and run ship setup again',
          });
        }
      }
      s.missing.set(h.name, missing);
      // A shared file that is a symlink is never written through nor replaced: one that
      // would be (its bytes differ) stops the run here, before any host is changed.
      for (const f of s.files) {
        const target = path.join(h.paths.shared, f.name);
        if ((await h.t.stat(target))?.type !== 'symlink') continue;
        const current = await h.t.readFile(target).catch(() => null);
        if (current && sha(current) === sha(f.data)) continue;
        throw await linkRefused(h, target, f);
      }
    });
  },
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function linkRefused(h: HostRun, target: string, f: LocalFile): Promise<ShipError> {
  const to = await h.t.readlink(target).catch(() => null);
  return new ShipError(`${h.name}: ${target} is a symlink${to ? ` (to ${to})` : ''}; ship setup does not upload ${f.from} over a link`, {
    host: h.name,
    reason: 'setup',
    hint: `update the file the link points to yourself, or replace the link with a plain file (rm ${target}) and run ship setup again`,
  });
}

export const setup = {
  name: 'setup',
  description: 'create the directories and upload the shared files',
  /** Says what would be created and uploaded (the same report, in the conditional). */
  preview: (ctx, hosts): Promise<void> => setup.run(ctx, hosts, true),
  async run(ctx, hosts, dry = false) {
    const s = state(ctx);
    const all: SetupReport[] = [];
    reports.set(ctx, all);
    await forEachHost(ctx, 'setup', hosts, async (h) => {
      const r: SetupReport = { host: h.name, created: [], uploaded: [], replaced: [], unchanged: [], kept: [] };
      all.push(r);
      const before = s.missing.get(h.name) ?? new Set<string>();
      for (const d of wantedDirs(ctx, s.files)) {
        const p = path.join(h.root, d);
        const st = await h.t.stat(p);
        if (!st && !dry) await h.t.mkdirp(p);
        if (!st || before.has(d)) r.created.push(d === '.' ? h.root : `${d}/`);
      }
      if (!dry) await privateMeta(ctx, h); // .ship/ 0700, history.jsonl 0600 (docs/security.md)
      for (const f of s.files) await uploadOne(ctx, h, f, r, dry);
      const changed = r.created.length + r.uploaded.length + r.replaced.length > 0;
      if (changed && !dry) {
        await record(ctx, h, {
          action: 'setup',
          message: describe(r, false),
          durationMs: Date.now() - ctx.startedAt.getTime(),
          outcome: 'ok',
        });
      }
      // A log line (not only the step's message), so a terminal's spinner output shows it too.
      ctx.events.log(describe(r, dry), h.name);
    });
    all.sort((a, b) => (a.host < b.host ? -1 : 1));
    // An upload that was asked for and not done is a failure a CI job must notice (exit 1).
    const kept = all.filter((r) => r.kept.length);
    if (kept.length && !dry) {
      throw new ShipError(`setup left shared files that differ from the local ones: ${kept.map((r) => `${r.host}: ${r.kept.join(' ')}`).join('; ')}`, {
        host: kept.length === 1 ? kept[0].host : undefined,
        reason: 'setup-kept',
        hint: `ship setup ${ctx.stage.name} --force replaces them (keeping each old one as a .bak)`,
      });
    }
  },
} satisfies Step;

async function uploadOne(ctx: Ctx, h: HostRun, f: LocalFile, r: SetupReport, dry: boolean): Promise<void> {
  const target = path.join(h.paths.shared, f.name);
  const st = await h.t.stat(target);
  if (st?.type === 'dir') {
    throw new ShipError(`${h.name}: ${target} is a directory; cannot upload ${f.from} there`, { host: h.name, reason: 'setup' });
  }
  let old: Buffer | null = null;
  if (st) {
    old = await h.t.readFile(target);
    if (old && sha(old) === sha(f.data)) {
      r.unchanged.push(f.name);
      if (f.secret && st.type === 'file' && st.mode & 0o077) {
        ctx.events.warn(`${target} holds secrets but has mode ${st.mode.toString(8).padStart(4, '0')}: consider chmod 600`, h.name);
      }
      return;
    }
    if (st.type === 'symlink') throw await linkRefused(h, target, f);
    if (!ctx.opts.force) {
      r.kept.push(f.name);
      ctx.events.warn(`${target} exists and differs from ${f.from}: left as it is (--force replaces it, keeping the old one as a .bak)`, h.name);
      return;
    }
  }
  if (dry) {
    if (old) r.replaced.push({ name: f.name, backup: `${f.name}.<timestamp>.bak` });
    else r.uploaded.push(f.name);
    return;
  }
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.ship-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await h.t.writeFile(tmp, f.data, { exclusive: true, mode: f.mode });
    if (old) {
      const backup = await writeBackup(h, target, old, ctx.opts.now?.() ?? new Date());
      r.replaced.push({ name: f.name, backup: path.relative(h.paths.shared, backup) });
    } else r.uploaded.push(f.name);
    await h.t.rename(tmp, target);
  } catch (e) {
    await h.t.remove(tmp).catch(() => {});
    throw e;
  }
}

/** `<name>.<YYYYMMDDHHMMSS>.bak` next to the file (a `-N` suffix when that second is taken), mode 0600. */
async function writeBackup(h: HostRun, target: string, data: Buffer, now: Date): Promise<string> {
  const base = `${target}.${timestampId(now)}`;
  for (let i = 0; ; i++) {
    const p = `${base}${i ? `-${i}` : ''}.bak`;
    try {
      await h.t.writeFile(p, data, { exclusive: true, mode: 0o600 });
      return p;
    } catch (e) {
      if (!(e instanceof FileExistsError) || i > 50) throw e;
    }
  }
}

function describe(r: SetupReport, dry: boolean): string {
  const v = (past: string, base: string) => (dry ? `would ${base}` : past);
  const parts: string[] = [];
  if (!r.created.length && !r.uploaded.length && !r.replaced.length) parts.push('nothing to do');
  if (r.created.length) parts.push(`${v('created', 'create')} ${r.created.join(' ')}`);
  if (r.uploaded.length) parts.push(`${v('uploaded', 'upload')} ${r.uploaded.join(' ')}`);
  for (const x of r.replaced) parts.push(`${v('replaced', 'replace')} ${x.name} (previous kept as ${x.backup})`);
  if (r.kept.length) parts.push(`left ${r.kept.join(' ')} as it is (differs; --force replaces)`);
  if (r.unchanged.length) parts.push(`${r.unchanged.join(' ')} up to date`);
  return parts.join('; ');
}
