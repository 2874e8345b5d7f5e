import type { BuildInfo } from './context.js';
import { atOrUnder } from './paths.js';
import { allHashed, sha256File, walkBuild } from './scan.js';

/**
 * Reads a build directory into the list the archive and manifest are made from, every
 * file hashed (see scan.ts for the walk and the rules on symlinks and special files).
 */
export async function scanBuild(dir: string, opts: { exclude: string[]; followSymlinks: boolean }): Promise<BuildInfo> {
  const info = await walkBuild(dir, opts);
  await allHashed(info);
  return info;
}

/** Drops what lies at or under a shared path: the release gets a symlink there instead. */
export function withoutShared(b: BuildInfo, shared: string[]): BuildInfo {
  const out = (p: string) => !shared.some((r) => atOrUnder(p, r));
  const files = b.files.filter((f) => out(f.path));
  return { ...b, files, links: b.links.filter((l) => out(l.path)), dirs: b.dirs.filter(out), bytes: files.reduce((n, f) => n + f.size, 0) };
}

export { sha256File };

export interface Manifest {
  release: string;
  revision?: string;
  dirty?: boolean;
  files: { path: string; size: number; mode: number; sha256: string }[];
  links: { path: string; target: string }[];
  /** The shared paths the release holds as symlinks into shared/ (not in files or links). */
  shared?: string[];
}

/** Which files a host can take from its previous release instead of receiving them. */
export function reusable(build: BuildInfo, prev: Manifest | undefined): Set<string> {
  const out = new Set<string>();
  if (!prev) return out;
  const old = new Map(prev.files.map((f) => [f.path, f]));
  for (const f of build.files) {
    const o = old.get(f.path);
    if (o && o.sha256 === f.sha256 && o.mode === f.mode && o.size === f.size) out.add(f.path);
  }
  return out;
}
