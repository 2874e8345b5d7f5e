/**
 * Reading the build fast: a walk (readdir + lstat, synchronous: see walkBuild), a local cache of
 * sha256 keyed by (path, size, mtime, ctime, inode), and the hashing of what the cache
 * does not hold started in the background, so it overlaps connecting to the hosts.
 *
 * A file is read once per deploy where that can be known in time: the archive producer
 * (archive.ts) hashes a file it sends whose hash is still unknown, and the background
 * hasher skips a file the producer has claimed.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, lstatSync, openSync, promises as fs, readdirSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { writeCacheFile } from './cache-file.js';
import type { BuildInfo } from './context.js';
import { ShipError } from './errors.js';

export type BuildFile = BuildInfo['files'][number];

/** What the cache key of a file is made of. */
interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

const statKeys = new WeakMap<BuildFile, StatKey>();

const HASH_CONCURRENCY = 16;
/** Files up to this size are read whole; larger ones are streamed. */
export const WHOLE_READ_MAX = 4 * 1024 * 1024;

/**
 * Reads a build directory into the list the archive and manifest are made from, without
 * hashing (files get sha256 '' until hashFiles or the archive producer fills it in).
 * Symlinks stay symlinks; one that leaves the build (or is absolute) is refused unless
 * followSymlinks, which packs what it points at. Devices, FIFOs and sockets are refused.
 * `skip` is an absolute path never entered (the hash cache, when it lies in the build).
 */
export async function walkBuild(dir: string, opts: { exclude: string[]; followSymlinks: boolean; skip?: string }): Promise<BuildInfo> {
  const st = await fs.stat(dir).catch(() => null);
  if (!st?.isDirectory()) {
    throw new ShipError(`build directory ${dir} is missing`, { reason: 'build', hint: 'run the build first, or set build.command / build.dir' });
  }
  const excluded = opts.exclude.length ? picomatch(opts.exclude, { dot: true }) : () => false;
  const info: BuildInfo = { dir, files: [], links: [], dirs: [], bytes: 0 };
  const root = await fs.realpath(dir);
  const skip = opts.skip ? path.resolve(opts.skip) : undefined;
  const inside = (x: string) => x === root || x.startsWith(root + path.sep);

  // Synchronous calls, one directory after another: with the build in the page cache (it
  // was just written) this is about twice as fast as the same calls through libuv's thread
  // pool, and nothing else runs while the build is read.
  const queue: string[] = [''];
  while (queue.length) readDir(queue.pop()!);

  function readDir(rel: string): void {
    for (const ent of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (excluded(r)) continue;
      if (r.includes('\n')) throw new ShipError(`build file name with a newline: ${JSON.stringify(r)}`, { reason: 'build' });
      const p = path.join(dir, r);
      if (skip && path.resolve(p) === skip) continue;
      let s = lstatSync(p);
      if (s.isSymbolicLink()) {
        const target = readlinkSync(p);
        const resolved = path.resolve(path.dirname(p), target);
        let real = resolved;
        try {
          real = realpathSync(p);
        } catch {
          /* a dangling link: judged by where it points */
        }
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
        s = statSync(p);
      }
      if (s.isDirectory()) {
        info.dirs.push(r);
        queue.push(r);
      } else if (s.isFile()) {
        const f: BuildFile = { path: r, size: s.size, mode: s.mode & 0o777, sha256: '' };
        statKeys.set(f, { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino });
        info.files.push(f);
        info.bytes += s.size;
      } else {
        throw new ShipError(`${r} in the build is not a file, directory or symlink (device, FIFO or socket)`, {
          reason: 'build',
          hint: 'remove it from the build or add it to build.exclude',
        });
      }
    }
  }

  const byPath = (a: { path: string } | string, b: { path: string } | string) => {
    const x = typeof a === 'string' ? a : a.path;
    const y = typeof b === 'string' ? b : b.path;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  info.files.sort(byPath);
  info.links.sort(byPath);
  info.dirs.sort(byPath);
  if (!info.files.length && !info.links.length) {
    throw new ShipError(`build directory ${dir} is empty`, { reason: 'build', hint: 'check build.dir and that build.command wrote its output there' });
  }
  return info;
}

// ---- the hash cache -------------------------------------------------------------------

type CacheEntry = [path: string, size: number, mtimeMs: number, ctimeMs: number, ino: number, sha256: string];

/** The cache file of a build dir, under `cacheDir` (the project's .ship/cache). */
export function hashCacheFile(cacheDir: string, buildDir: string): string {
  const id = createHash('sha256').update(path.resolve(buildDir)).digest('hex').slice(0, 16);
  return path.join(cacheDir, `hashes-${id}.json`);
}

/** Fills in sha256 of the files the cache holds (same path, size, mtime, ctime, inode). Returns how many. */
export async function applyHashCache(build: BuildInfo, file: string): Promise<number> {
  let entries: CacheEntry[];
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { v: number; e: CacheEntry[] };
    if (parsed.v !== 1 || !Array.isArray(parsed.e)) return 0;
    entries = parsed.e;
  } catch {
    return 0;
  }
  const byPath = new Map(entries.map((e) => [e[0], e]));
  let hits = 0;
  for (const f of build.files) {
    const k = statKeys.get(f);
    const e = byPath.get(f.path);
    if (!k || !e) continue;
    if (e[1] === k.size && e[2] === k.mtimeMs && e[3] === k.ctimeMs && e[4] === k.ino && /^[0-9a-f]{64}$/.test(e[5])) {
      f.sha256 = e[5];
      hits++;
    }
  }
  return hits;
}

/** Writes the cache for the build's hashed files, atomically (random temp name opened exclusively, then rename: cache-file.ts). */
export async function saveHashCache(build: BuildInfo, file: string): Promise<void> {
  const e: CacheEntry[] = [];
  for (const f of build.files) {
    const k = statKeys.get(f);
    if (k && f.sha256) e.push([f.path, k.size, k.mtimeMs, k.ctimeMs, k.ino, f.sha256]);
  }
  await writeCacheFile(file, JSON.stringify({ v: 1, e }));
}

// ---- hashing --------------------------------------------------------------------------

/**
 * The background hashing of a build's files: files are claimed one by one, so the
 * archive producer and the hasher never read the same file both (unless the producer
 * needs one the hasher is already reading).
 */
export class HashJob {
  private claimed = new WeakSet<BuildFile>();
  private next: number;
  private stopped = false;
  readonly done: Promise<void>;
  /** Files read by this job (for the debug line). */
  read = 0;

  constructor(private build: BuildInfo) {
    // From the end: a producer sending the whole build starts at the front.
    this.next = build.files.length - 1;
    this.done = this.run();
    this.done.catch(() => {}); // awaited later; never an unhandled rejection meanwhile
  }

  /** The producer takes `f` (it reads it anyway); true when the hasher has not started on it. */
  claim(f: BuildFile): boolean {
    if (this.claimed.has(f)) return false;
    this.claimed.add(f);
    return true;
  }

  /** Stops claiming new files (the producer hashes the rest as it sends them). */
  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    // Small files synchronously, a batch at a time, yielding to the event loop between
    // batches (connections are being set up meanwhile); large ones streamed.
    let batch = 0;
    while (!this.stopped && this.next >= 0) {
      const f = this.build.files[this.next--];
      if (f.sha256 || this.claimed.has(f)) continue;
      this.claimed.add(f);
      const p = path.join(this.build.dir, f.path);
      const data = f.size <= WHOLE_READ_MAX ? readSmall(p, f.size) : null;
      if (f.size <= WHOLE_READ_MAX && !data) {
        throw new ShipError(`build file ${f.path} changed while it was being read`, { reason: 'build', hint: 'let the build finish before deploying' });
      }
      f.sha256 = data ? createHash('sha256').update(data).digest('hex') : await sha256File(p, f.size);
      this.read++;
      if (++batch >= 32 || f.size > WHOLE_READ_MAX) {
        batch = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  }
}

const jobs = new WeakMap<BuildInfo, HashJob>();

/** Starts hashing the files of `build` whose sha256 is not known yet. */
export function startHashing(build: BuildInfo): HashJob {
  const job = new HashJob(build);
  jobs.set(build, job);
  return job;
}

export function hashJob(build: BuildInfo): HashJob | undefined {
  return jobs.get(build);
}

/** Resolves once every file of `build` has its sha256 (hashing what is still missing). */
export async function allHashed(build: BuildInfo): Promise<void> {
  const job = jobs.get(build);
  if (job) await job.done;
  const missing = build.files.filter((f) => !f.sha256);
  if (!missing.length) return;
  // A stopped job (the producer took over) or no job: hash the rest here.
  let i = 0;
  await Promise.all(
    Array.from({ length: HASH_CONCURRENCY }, async () => {
      while (i < missing.length) {
        const f = missing[i++];
        if (!f.sha256) f.sha256 = await sha256File(path.join(build.dir, f.path), f.size);
      }
    }),
  );
}

/** Reads a file of known size whole (open, read, close); null when its size changed. */
export function readSmall(p: string, size: number): Buffer | null {
  const fd = openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > size) return null;
    }
    return n === size ? buf.subarray(0, size) : null;
  } finally {
    closeSync(fd);
  }
}

export async function sha256File(p: string, size?: number): Promise<string> {
  if (size !== undefined && size <= WHOLE_READ_MAX) {
    return createHash('sha256').update(await fs.readFile(p)).digest('hex');
  }
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(p, { highWaterMark: 1024 * 1024 })
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
