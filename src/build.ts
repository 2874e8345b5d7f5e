import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { BuildInfo } from './context.js';
import { ShipError } from './errors.js';

/**
 * Reads a build directory into the list the archive and manifest are made from.
 * Symlinks stay symlinks; one that leaves the build (or is absolute) is refused unless
 * followSymlinks, which packs what it points at. Devices, FIFOs and sockets are refused.
 */
export async function scanBuild(dir: string, opts: { exclude: string[]; followSymlinks: boolean }): Promise<BuildInfo> {
  const st = await fs.stat(dir).catch(() => null);
  if (!st?.isDirectory()) {
    throw new ShipError(`build directory ${dir} is missing`, { reason: 'build', hint: 'run the build first, or set build.command / build.dir' });
  }
  const excluded = opts.exclude.length ? picomatch(opts.exclude, { dot: true }) : () => false;
  const info: BuildInfo = { dir, files: [], links: [], dirs: [], bytes: 0 };
  const root = await fs.realpath(dir);

  async function walk(rel: string): Promise<void> {
    const abs = path.join(dir, rel);
    const entries = (await fs.readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const ent of entries) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (excluded(r)) continue;
      if (r.includes('\n')) throw new ShipError(`build file name with a newline: ${JSON.stringify(r)}`, { reason: 'build' });
      const p = path.join(dir, r);
      let s = await fs.lstat(p);
      if (s.isSymbolicLink()) {
        const target = await fs.readlink(p);
        const resolved = path.resolve(path.dirname(p), target);
        const real = await fs.realpath(p).catch(() => resolved);
        const inside = (x: string) => x === root || x.startsWith(root + path.sep);
        const escapes = path.isAbsolute(target) || !inside(path.resolve(root, path.relative(dir, resolved))) || !inside(real);
        if (!opts.followSymlinks) {
          if (escapes) {
            throw new ShipError(`symlink ${r} -> ${target} leaves the build directory ${dir}`, {
              reason: 'symlink',
              hint: 'replace it with the files it points at, or set build.followSymlinks: true to pack its target',
            });
          }
          info.links.push({ path: r, target });
          continue;
        }
        s = await fs.stat(p);
      }
      if (s.isDirectory()) {
        info.dirs.push(r);
        await walk(r);
      } else if (s.isFile()) {
        info.files.push({ path: r, size: s.size, mode: s.mode & 0o777, sha256: await sha256File(p) });
        info.bytes += s.size;
      } else {
        throw new ShipError(`${r} in the build is not a file, directory or symlink (device, FIFO or socket)`, {
          reason: 'build',
          hint: 'remove it from the build or add it to build.exclude',
        });
      }
    }
  }
  await walk('');
  if (!info.files.length && !info.links.length) {
    throw new ShipError(`build directory ${dir} is empty`, { reason: 'build', hint: 'check build.dir and that build.command wrote its output there' });
  }
  return info;
}

/** Drops what lies at or under a shared path: the release gets a symlink there instead. */
export function withoutShared(b: BuildInfo, shared: string[]): BuildInfo {
  const roots = shared.map((s) => s.replace(/\/+$/, ''));
  const out = (p: string) => !roots.some((r) => p === r || p.startsWith(`${r}/`));
  const files = b.files.filter((f) => out(f.path));
  return { ...b, files, links: b.links.filter((l) => out(l.path)), dirs: b.dirs.filter(out), bytes: files.reduce((n, f) => n + f.size, 0) };
}

export function sha256File(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(p)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export interface Manifest {
  release: string;
  revision?: string;
  dirty?: boolean;
  files: { path: string; size: number; mode: number; sha256: string }[];
  links: { path: string; target: string }[];
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
