/**
 * The upload archive, made while it is sent: a tar stream written here (ustar headers,
 * pax records for long names), compressed on the way (none, gzip in-process, or a local
 * `zstd` process), and fanned out to every host that needs the same bytes. No temp file;
 * the slowest host sets the pace (backpressure), so memory stays flat whatever the size.
 *
 * The producer reads each file once: a file whose sha256 is still unknown is hashed from
 * the same bytes it sends.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import type { BuildInfo } from './context.js';
import { ShipError } from './errors.js';
import { hashJob, readSmall, WHOLE_READ_MAX, type BuildFile } from './scan.js';

export type Compression = 'none' | 'gzip' | 'zstd';

export interface ArchiveSpec {
  build: BuildInfo;
  dirs: string[];
  files: BuildFile[];
  links: { path: string; target: string }[];
}


// ---- tar --------------------------------------------------------------------------------

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function padding(size: number): Buffer {
  const r = size % 512;
  return r ? Buffer.alloc(512 - r) : Buffer.alloc(0);
}

/** One ustar header block (plus a pax header before it when a name does not fit). */
export function tarHeader(e: { name: string; type: '0' | '2' | '5'; mode: number; size: number; mtime: number; linkname?: string }): Buffer {
  const name = Buffer.from(e.name);
  const link = Buffer.from(e.linkname ?? '');
  const pax: Buffer[] = [];
  if (name.length > 100) pax.push(paxRecord('path', e.name));
  if (link.length > 100) pax.push(paxRecord('linkpath', e.linkname!));
  if (e.size > 0o77777777777) pax.push(paxRecord('size', String(e.size)));
  const out: Buffer[] = [];
  if (pax.length) {
    const body = Buffer.concat(pax);
    out.push(block({ name: 'PaxHeader', type: 'x', mode: 0o644, size: body.length, mtime: e.mtime }), body, padding(body.length));
  }
  out.push(block({ ...e, name: name.length > 100 ? name.subarray(0, 100).toString('latin1') : e.name, linkname: link.length > 100 ? '' : e.linkname }));
  return Buffer.concat(out);
}

function block(e: { name: string; type: string; mode: number; size: number; mtime: number; linkname?: string }): Buffer {
  const b = Buffer.alloc(512);
  const name = Buffer.from(e.name);
  name.copy(b, 0, 0, Math.min(100, name.length));
  b.write(octal(e.mode & 0o7777, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  b.write(octal(Math.min(e.size, 0o77777777777), 12), 124, 'latin1');
  b.write(octal(Math.max(0, Math.floor(e.mtime)), 12), 136, 'latin1');
  b.write('        ', 148, 'latin1');
  b.write(e.type, 156, 'latin1');
  if (e.linkname) Buffer.from(e.linkname).copy(b, 157, 0, 100);
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

/**
 * The tar stream of `spec`: directories, then files (read ahead a few at a time, in
 * order), then symlinks. Files with an unknown sha256 are hashed from the bytes sent.
 */
export function tarStream(spec: ArchiveSpec): Readable {
  const job = hashJob(spec.build);
  const now = Math.floor(Date.now() / 1000);
  async function* gen(): AsyncGenerator<Buffer> {
    for (const d of spec.dirs) yield tarHeader({ name: `./${d}/`, type: '5', mode: 0o755, size: 0, mtime: now });
    const files = spec.files;
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      const hashIt = !f.sha256 && (job ? job.claim(f) : true);
      const data = f.size <= WHOLE_READ_MAX ? readWhole(spec.build.dir, f, hashIt) : null;
      // Sealed as sent (write bits cleared, src/immutable.ts): tar's umask can only take
      // bits away, so a file unpacks read-only with no pass over the release afterwards.
      yield tarHeader({ name: `./${f.path}`, type: '0', mode: f.mode & ~0o222, size: f.size, mtime: now });
      if (data) {
        yield data;
      } else {
        const h = !f.sha256 ? createHash('sha256') : undefined;
        let n = 0;
        for await (const chunk of createReadStream(path.join(spec.build.dir, f.path), { highWaterMark: 1024 * 1024 })) {
          n += (chunk as Buffer).length;
          if (n > f.size) break;
          h?.update(chunk as Buffer);
          yield chunk as Buffer;
        }
        if (n !== f.size) throw changed(f);
        if (h) f.sha256 = h.digest('hex');
      }
      const pad = padding(f.size);
      if (pad.length) yield pad;
    }
    for (const l of spec.links) yield tarHeader({ name: `./${l.path}`, type: '2', mode: 0o777, size: 0, mtime: now, linkname: l.target });
    yield Buffer.alloc(1024);
  }
  // Headers, small files and padding are gathered into pieces of 256 KiB: far fewer
  // stream operations than one per header and file.
  async function* coalesced(): AsyncGenerator<Buffer> {
    let parts: Buffer[] = [];
    let size = 0;
    for await (const b of gen()) {
      parts.push(b);
      size += b.length;
      if (size >= COALESCE) {
        yield parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
        parts = [];
        size = 0;
      }
    }
    if (size) yield Buffer.concat(parts, size);
  }
  return Readable.from(coalesced(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

const COALESCE = 256 * 1024;

/** A small file, read synchronously: from the page cache this beats a thread-pool round trip per file. */
function readWhole(dir: string, f: BuildFile, hashIt: boolean): Buffer {
  const data = readSmall(path.join(dir, f.path), f.size);
  if (!data) throw changed(f);
  if (hashIt && !f.sha256) f.sha256 = createHash('sha256').update(data).digest('hex');
  return data;
}

function changed(f: BuildFile): ShipError {
  return new ShipError(`build file ${f.path} changed while it was being sent`, { reason: 'build', hint: 'let the build finish before deploying' });
}

/** Byte count of the tar stream of `spec` before compression (what `none` sends). */
export function tarSize(spec: ArchiveSpec): number {
  let n = 1024;
  const h = (name: string, link = '') => 512 + (Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100 ? 1024 : 0);
  for (const d of spec.dirs) n += h(`./${d}/`);
  for (const f of spec.files) n += h(`./${f.path}`) + f.size + padding(f.size).length;
  for (const l of spec.links) n += h(`./${l.path}`, l.target);
  return n;
}

// ---- compression --------------------------------------------------------------------------

/** The archive, compressed as asked. */
export function compressed(tar: Readable, how: Compression, gzipLevel = 6): Readable {
  if (how === 'none') return tar;
  if (how === 'gzip') {
    const z = zlib.createGzip({ level: gzipLevel });
    tar.on('error', (e) => z.destroy(e));
    return tar.pipe(z);
  }
  const child = spawn('zstd', ['-q', '-c', '-3', '-T0'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const out = new PassThrough();
  tar.on('error', (e) => {
    child.kill();
    out.destroy(e);
  });
  child.on('error', (e) => out.destroy(e));
  child.stdin.on('error', () => {});
  child.on('close', (code) => {
    if (code !== 0 && !out.destroyed) out.destroy(new ShipError(`local zstd exited ${code}`, { reason: 'compress' }));
  });
  tar.pipe(child.stdin);
  child.stdout.pipe(out);
  return out;
}

/** The host-side tar flag for a compression. */
export function untarFlags(how: Compression): string[] {
  return how === 'gzip' ? ['-z'] : how === 'zstd' ? ['--use-compress-program=zstd'] : [];
}

let localZstd: Promise<boolean> | undefined;
/** Whether a `zstd` program runs here. */
export function hasLocalZstd(): Promise<boolean> {
  localZstd ??= new Promise((resolve) => {
    const c = spawn('zstd', ['--version'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('close', (code) => resolve(code === 0));
  });
  return localZstd;
}

// ---- fan-out --------------------------------------------------------------------------------

/**
 * One source read once, written to every branch. The source pauses while any live branch
 * is full; a branch whose reader went away (its host failed) is dropped, never waited on.
 */
export class FanOut {
  private branches = new Set<PassThrough>();
  private bytes = 0;
  private started = false;

  constructor(private source: Readable) {}

  branch(): PassThrough {
    const b = new PassThrough({ highWaterMark: 1024 * 1024 });
    const drop = () => {
      this.branches.delete(b);
      if (!this.branches.size) this.source.destroy();
      // Only a started source may resume: before start() nothing listens, and resuming
      // would let the archive flow away unread (the other hosts would wait for ever).
      else if (this.started) this.source.resume();
    };
    b.on('close', drop);
    b.on('error', drop);
    this.branches.add(b);
    return b;
  }

  /** Total bytes the source produced. */
  get size(): number {
    return this.bytes;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const src = this.source;
    src.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      let full = 0;
      for (const b of this.branches) {
        if (b.destroyed) continue;
        if (!b.write(chunk)) {
          full++;
          b.once('drain', onDrain);
        }
      }
      if (full) src.pause();
    });
    const onDrain = () => {
      for (const b of this.branches) if (!b.destroyed && b.writableNeedDrain) return;
      src.resume();
    };
    src.on('end', () => {
      for (const b of this.branches) b.end();
    });
    src.on('error', (e) => {
      for (const b of this.branches) b.destroy(e);
    });
  }
}

export type { Writable };
