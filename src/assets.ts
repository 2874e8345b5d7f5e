/**
 * Asset carry-over (`assets: { dirs, keep }`, docs/zero-downtime.md): fingerprinted files of recent
 * releases stay reachable after a switch, so a browser holding an old page still finds
 * its scripts and stylesheets (the "ChunkLoadError after deploy" problem).
 *
 * - Deploy: the new release gets, as hard links (copies with `reuse: copy`), the files
 *   under the asset dirs of the previous `keep` good releases that it lacks. Its own files
 *   always win; of two older releases with the same path, the newer one wins. Only a
 *   release's own files are carried (and those a rollback added to it), never what it
 *   carried itself at its deploy: files age out after `keep` releases.
 * - Rollback: before the flip, the asset files of the release being left that the target
 *   lacks are added to the target — new paths only, never a changed file — and recorded
 *   in the target's manifest. That is the only write a published release ever gets.
 *
 * The plans are pure functions; the two entry points do the linking on the host.
 */
import { randomBytes } from 'node:crypto';
import { atOrUnder } from './paths.js';
import type { Manifest } from './build.js';
import type { Ctx, HostRun } from './context.js';
import { forEachHost, run } from './context.js';
import { GOOD, hostReleases } from './releases.js';
import { manifestText, parseManifest } from './manifest-text.js';
import { sh } from './shell.js';

export type ManifestFile = Manifest['files'][number];

/** A file a release holds without having built it. */
export interface CarriedFile {
  path: string;
  /** The release directory it was linked from. */
  from: string;
  /** `deploy`: carried forward when this release was made; `rollback`: added on a rollback to it. */
  by: 'deploy' | 'rollback';
}

/** A manifest as ship writes it: `files` lists every file; `carried` says which were not built here. */
export interface AssetManifest extends Manifest {
  carried?: CarriedFile[];
}

export interface PlannedFile {
  file: ManifestFile;
  from: string;
}

/** True when `p` lies under one of the asset dirs. */
export function inAssetDirs(p: string, dirs: string[]): boolean {
  return dirs.some((d) => p !== d.replace(/\/+$/, '') && atOrUnder(p, d));
}

function ancestors(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/**
 * What a release already occupies: a candidate path is taken when it is a file or link
 * there, when one of its parents is a file or link there (it cannot become a directory),
 * when it is a directory there, or when it lies at or under a shared path (a symlink into
 * shared/: writing through it would change shared storage).
 */
class Occupied {
  private leaves = new Set<string>();
  private dirs = new Set<string>();
  constructor(private shared: string[]) {}
  addLeaf(p: string): void {
    this.leaves.add(p);
    for (const a of ancestors(p)) this.dirs.add(a);
  }
  addDir(p: string): void {
    this.dirs.add(p);
    for (const a of ancestors(p)) this.dirs.add(a);
  }
  taken(p: string): boolean {
    if (this.leaves.has(p) || this.dirs.has(p)) return true;
    if (ancestors(p).some((a) => this.leaves.has(a))) return true;
    return this.shared.some((s) => atOrUnder(p, s));
  }
}

/** The files of `m` that count as its own for carrying forward. */
export function carriable(m: AssetManifest, dirs: string[]): ManifestFile[] {
  const carriedAtDeploy = new Set((m.carried ?? []).filter((c) => c.by === 'deploy').map((c) => c.path));
  return m.files.filter((f) => inAssetDirs(f.path, dirs) && !carriedAtDeploy.has(f.path));
}

/**
 * Deploy direction. `own` is the new release (its files and links; `ownDirs` its
 * directories); `sources` the previous good releases, newest first.
 */
export function planCarryOver(
  own: Pick<Manifest, 'files' | 'links'>,
  ownDirs: string[],
  sources: Array<{ id: string; manifest: AssetManifest }>,
  dirs: string[],
  shared: string[],
): PlannedFile[] {
  const occ = new Occupied(shared);
  for (const f of own.files) occ.addLeaf(f.path);
  for (const l of own.links) occ.addLeaf(l.path);
  for (const d of ownDirs) occ.addDir(d);
  const out: PlannedFile[] = [];
  for (const src of sources) {
    for (const f of carriable(src.manifest, dirs)) {
      if (occ.taken(f.path)) continue;
      occ.addLeaf(f.path);
      out.push({ file: f, from: src.id });
    }
  }
  return out;
}

/**
 * Rollback direction: the asset files of `leaving` (all of them: what it built and what it
 * carried) at paths `target` does not have. Never a path the target has, whatever its content.
 */
export function planCarryBack(target: AssetManifest, leaving: { id: string; manifest: AssetManifest }, dirs: string[], shared: string[]): PlannedFile[] {
  const occ = new Occupied(shared);
  for (const f of target.files) occ.addLeaf(f.path);
  for (const l of target.links) occ.addLeaf(l.path);
  const out: PlannedFile[] = [];
  for (const f of leaving.manifest.files) {
    if (!inAssetDirs(f.path, dirs) || occ.taken(f.path)) continue;
    occ.addLeaf(f.path);
    out.push({ file: f, from: leaving.id });
  }
  return out;
}

/** `manifest` with `planned` added to its files and its `carried` list. */
export function withCarried(manifest: AssetManifest, planned: PlannedFile[], by: CarriedFile['by']): AssetManifest {
  if (!planned.length) return manifest;
  const files = [...manifest.files, ...planned.map((p) => p.file)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ...manifest, files, carried: [...(manifest.carried ?? []), ...planned.map((p) => ({ path: p.file.path, from: p.from, by }))] };
}

async function readManifest(h: HostRun, id: string): Promise<AssetManifest | undefined> {
  const buf = await h.t.readFile(h.paths.manifest(id));
  return buf ? (parseManifest(buf.toString('utf8'))?.manifest as AssetManifest | undefined) : undefined;
}

function groupByFrom(planned: PlannedFile[]): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const p of planned) by.set(p.from, [...(by.get(p.from) ?? []), p.file.path]);
  return by;
}

// Links (or copies) each listed path from $PWD into $0, skipping any path that exists there
// already: an existing file is never replaced. Paths come NUL-separated on stdin.
const LINK_NEW = 'dest=$0; op=$1; shift; for p do [ -e "$dest/$p" ] || [ -L "$dest/$p" ] && continue; d=$(dirname -- "$p"); mkdir -p -- "$dest/$d" && if [ "$op" = copy ]; then cp -p -- "$p" "$dest/$p"; else ln -- "$p" "$dest/$p"; fi || exit 1; done';

/**
 * Deploy: links the previous good releases' asset files the new release lacks into
 * `partial` and returns the manifest with them recorded. Called by the link step.
 */
export async function withCarriedAssets(ctx: Ctx, h: HostRun, partial: string, manifest: Manifest, ownDirs: string[]): Promise<AssetManifest> {
  const assets = ctx.stage.assets;
  const id = manifest.release;
  if (!assets || assets.keep < 1 || !assets.dirs.length) return manifest;
  const previous = hostReleases(h)
    .filter((r) => r.id < id && GOOD.has(r.state) && h.dirs.includes(r.id))
    .sort((a, b) => (a.id < b.id ? 1 : -1))
    .slice(0, assets.keep);
  const sources: Array<{ id: string; manifest: AssetManifest }> = [];
  for (const r of previous) {
    const m = await readManifest(h, r.id);
    if (m) sources.push({ id: r.id, manifest: m });
  }
  const shared = [...ctx.stage.shared.dirs, ...ctx.stage.shared.files];
  const planned = planCarryOver(manifest, ownDirs, sources, assets.dirs, shared);
  if (!planned.length) return manifest;
  const flags = ctx.stage.reuse === 'copy' ? '-p' : '--link';
  for (const [from, paths] of groupByFrom(planned)) {
    // The partial release is new and holds only the build and shared links, which the plan avoids.
    await run(h, sh`cd ${h.paths.release(from)} && xargs -0 cp -P ${flags} --parents -t ${partial} --`, `carrying ${paths.length} asset files over from ${from}`, {
      stdin: paths.join('\0') + '\0',
    });
  }
  ctx.events.log(`kept ${planned.length} asset file${planned.length > 1 ? 's' : ''} of ${[...groupByFrom(planned).keys()].join(', ')} in ${id}`, h.name);
  return withCarried(manifest, planned, 'deploy');
}

/**
 * Rollback: on each host leaving a release for `h.target`, adds the leaving release's
 * asset files the target lacks to the target (before the flip) and records them in the
 * target's manifest. Called by the rollback step once the target is chosen.
 */
export async function carryBackAssets(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  const assets = ctx.stage.assets;
  if (!assets || !assets.dirs.length) return;
  const shared = [...ctx.stage.shared.dirs, ...ctx.stage.shared.files];
  const todo = hosts.filter((h) => h.target && h.currentId && h.currentId !== h.target && h.dirs.includes(h.currentId));
  if (!todo.length) return;
  await forEachHost(ctx, 'assets', todo, async (h) => {
    const target = h.target!;
    const leavingId = h.currentId!;
    const [targetManifest, leaving] = await Promise.all([readManifest(h, target), readManifest(h, leavingId)]);
    if (!targetManifest || !leaving) {
      ctx.events.warn(`no manifest for ${targetManifest ? leavingId : target}: its asset files are not carried back`, h.name);
      return 'skipped: no manifest';
    }
    const planned = planCarryBack(targetManifest, { id: leavingId, manifest: leaving }, assets.dirs, shared);
    if (!planned.length) return `${target} has every asset file of ${leavingId}`;
    const dest = h.paths.release(target);
    const op = ctx.stage.reuse === 'copy' ? 'copy' : 'link';
    await run(h, sh`cd ${h.paths.release(leavingId)} && xargs -0 sh -c ${LINK_NEW} ${dest} ${op}`, `adding ${planned.length} asset files of ${leavingId} to ${target}`, {
      stdin: planned.map((p) => p.file.path).join('\0') + '\0',
    });
    const updated = withCarried(targetManifest, planned, 'rollback');
    const tmp = `${h.paths.manifest(target)}.tmp-${randomBytes(4).toString('hex')}`;
    await h.t.writeFile(tmp, manifestText(updated));
    await h.t.rename(tmp, h.paths.manifest(target));
    return `added ${planned.length} asset file${planned.length > 1 ? 's' : ''} of ${leavingId} to ${target}`;
  });
}
