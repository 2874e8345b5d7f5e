/**
 * The manifest as ship writes it: JSON with one file entry per line, so a host can make
 * the next release's manifest from the previous one by keeping lines (`sed -n`) and
 * adding the few new ones, and the deployer can predict the result byte for byte (it
 * checks the host's sha256 of it). A local, content-addressed cache of manifests
 * (`.ship/cache/manifests/<sha256>.json` in the project) lets the deployer know a host's
 * previous manifest from its hash alone.
 *
 *   {"release":"…","revision":"…","links":[…],"shared":[…],"files":[
 *   {"path":"a","size":1,"mode":420,"sha256":"…"}
 *   ,{"path":"b",…}
 *   ]}
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeCacheFile } from './cache-file.js';
import type { Manifest } from './build.js';

type Entry = Manifest['files'][number];

export function entryLine(f: Entry): string {
  return JSON.stringify({ path: f.path, size: f.size, mode: f.mode, sha256: f.sha256 });
}

/** The first line: everything but the files, ending in `"files":[`. */
export function headerLine(m: Omit<Manifest, 'files'> & { files?: unknown }): string {
  const { files: _files, ...rest } = m;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"files":[`;
}

/** The text from a header line and entry lines (in that order). */
export function joinManifest(header: string, lines: string[]): string {
  return `${header}\n${lines.map((l, i) => (i ? `,${l}` : l)).join('\n')}${lines.length ? '\n' : ''}]}\n`;
}

export function manifestText(m: Manifest): string {
  return joinManifest(headerLine(m), m.files.map(entryLine));
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A manifest with its text split in lines: `lines[i]` is the entry line of `files[i]`, at line i + 2 of the file. */
export interface ParsedManifest {
  manifest: Manifest;
  text: string;
  sha256: string;
  /** null when the text is not one entry per line (an older ship wrote it): no line reuse. */
  lines: string[] | null;
}

export function parseManifest(text: string): ParsedManifest | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
    if (!Array.isArray(manifest.files)) return undefined;
    manifest.links ??= [];
  } catch {
    return undefined;
  }
  const all = text.split('\n');
  let lines: string[] | null = null;
  if (all.length === manifest.files.length + 3 && all[all.length - 1] === '' && all[all.length - 2] === ']}' && all[0].endsWith('"files":[')) {
    lines = all.slice(1, -2).map((l, i) => (i ? l.slice(1) : l));
    if (lines.some((l, i) => l !== entryLine(manifest.files[i]))) lines = null;
  }
  return { manifest, text, sha256: sha256(text), lines };
}

/** The local store of manifests by sha256. */
export class ManifestCache {
  constructor(readonly dir: string) {}

  private file(hash: string): string {
    return path.join(this.dir, `${hash}.json`);
  }

  async get(hash: string): Promise<ParsedManifest | undefined> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
    const text = await fs.readFile(this.file(hash), 'utf8').catch(() => undefined);
    if (text === undefined || sha256(text) !== hash) return undefined;
    return parseManifest(text);
  }

  /** Stores `text` under its hash (random temp name opened exclusively, then rename: cache-file.ts); errors are ignored: it is a cache. */
  async put(text: string): Promise<void> {
    const hash = sha256(text);
    try {
      await writeCacheFile(this.file(hash), text);
      await this.trim();
    } catch {
      /* a cache */
    }
  }

  /** Keeps the 50 newest manifests. */
  private async trim(): Promise<void> {
    const names = (await fs.readdir(this.dir)).filter((n) => n.endsWith('.json'));
    if (names.length <= 50) return;
    const withTimes = await Promise.all(names.map(async (n) => ({ n, t: (await fs.stat(path.join(this.dir, n)).catch(() => null))?.mtimeMs ?? 0 })));
    withTimes.sort((a, b) => b.t - a.t);
    await Promise.all(withTimes.slice(50).map((x) => fs.rm(path.join(this.dir, x.n), { force: true })));
  }
}
