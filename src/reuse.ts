/**
 * Incremental uploads: what a host can keep from its previous release, and the one remote
 * command that builds `releases/<id>.partial` from it.
 *
 * `reusePrevious` hard-links (`cp -al`; `cp -a` for `reuse: copy`) the whole previous
 * release into the .partial, removes what changed or disappeared (a changed file is
 * unlinked before the new one is extracted, so no inode of an earlier release is ever
 * written), extracts the archive of what is new, and makes the new manifest from the
 * previous one's lines plus the new entries, checked by sha256 against what the deployer
 * expects.
 */
import path from 'node:path/posix';
import type { Manifest } from './build.js';
import type { BuildInfo } from './context.js';
import { entryLine, headerLine, joinManifest, type ParsedManifest } from './manifest-text.js';
import { Shell, sh } from './shell.js';

export interface ReusePlan {
  /** Files taken from the previous release. */
  reused: Set<string>;
  /** What to send: files, links and directories the previous release lacks (or has otherwise). */
  send: { files: BuildInfo['files']; links: BuildInfo['links']; dirs: string[] };
  /** Paths to remove from the copy of the previous release, deepest first. */
  remove: string[];
  /** The new manifest as the host makes it: kept line numbers (1-based) and new entry lines. */
  manifest?: { header: string; keep: number[]; add: string[]; text: string };
}

function ancestors(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/**
 * The plan for a host whose previous release has manifest `prev`. The new manifest's
 * header carries `head` (release, revision, links, shared).
 */
export function planReuse(build: BuildInfo, prev: ParsedManifest, head: Omit<Manifest, 'files'>): ReusePlan {
  const pm = prev.manifest;
  const newFiles = new Map(build.files.map((f) => [f.path, f]));
  const newLinks = new Map(build.links.map((l) => [l.path, l.target]));
  const newDirs = new Set(build.dirs);
  const reused = new Set<string>();
  const remove = new Set<string>();
  const keep: number[] = [];
  pm.files.forEach((o, i) => {
    const f = newFiles.get(o.path);
    if (f && f.sha256 === o.sha256 && f.mode === o.mode && f.size === o.size && !reused.has(o.path)) {
      reused.add(o.path);
      keep.push(i + 2);
    } else remove.add(o.path);
  });
  const keptLinks = new Set<string>();
  for (const l of pm.links) {
    if (newLinks.get(l.path) === l.target) keptLinks.add(l.path);
    else remove.add(l.path);
  }
  // What the link step added to the previous release, and its directories the new build lacks.
  for (const s of pm.shared ?? []) remove.add(s.replace(/\/+$/, ''));
  if (!reused.has('REVISION') && !keptLinks.has('REVISION')) remove.add('REVISION');
  const prevDirs = new Set<string>();
  for (const p of [...pm.files.map((f) => f.path), ...pm.links.map((l) => l.path), ...(pm.shared ?? [])]) for (const a of ancestors(p)) prevDirs.add(a);
  for (const d of prevDirs) if (!newDirs.has(d)) remove.add(d);
  // A removed path inside a removed directory goes with it.
  const all = [...remove];
  const removeSet = new Set(all);
  const pruned = all.filter((p) => !ancestors(p).some((a) => removeSet.has(a)));
  pruned.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));

  const send = {
    files: build.files.filter((f) => !reused.has(f.path)),
    links: build.links.filter((l) => !keptLinks.has(l.path)),
    dirs: build.dirs.filter((d) => !prevDirs.has(d) || removeSet.has(d) || ancestors(d).some((a) => removeSet.has(a))),
  };
  let manifest: ReusePlan['manifest'];
  if (prev.lines) {
    const header = headerLine(head);
    const add = send.files.map(entryLine);
    const keptLines = keep.map((n) => prev.lines![n - 2]);
    manifest = { header, keep, add, text: joinManifest(header, [...keptLines, ...add]) };
  }
  return { reused, send, remove: pruned, manifest };
}

/** `sed -n` ranges for sorted line numbers: "2,500p;502,9000p". */
export function sedRanges(lines: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j] + 1) j++;
    out.push(lines[i] === lines[j] ? `${lines[i]}p` : `${lines[i]},${lines[j]}p`);
    i = j + 1;
  }
  return out.join(';');
}

export interface RemoteUpload {
  releases: string;
  partial: string;
  /** Host-side tar flags for the archive's compression. */
  untar: string[];
  /** The previous release dir and how to take it; none: start empty. */
  previous?: { dir: string; copy: boolean };
  /** Inline removal list (small), or a file on the host holding it NUL-separated. */
  remove?: { paths: string[] } | { file: string };
  /** Make the manifest on the host from the previous one. */
  manifest?: { prev: string; dest: string; header: string; ranges: string; add: string[]; expect: string };
}

/**
 * The one command that builds the .partial: stdin is the archive. It prints NUL-separated
 * `key value` records: `sha` (of the manifest it made) and `types` (one letter per entry
 * of the .partial, from `find -printf %y`).
 */
// The files of the new release lose their write bits (src/immutable.ts says why), in the
// same command. Sent files arrive sealed (their tar headers say so, src/archive.ts); what
// came from the previous release is sealed here, in case an older ship or a hook left a
// write bit on it. `uid` tells the deployer whether root (whom bits do not stop) logged in.
const SEAL_FILES = sh`find . -type f '(' -perm -u=w -o -perm -g=w -o -perm -o=w ')' -exec chmod a-w {} +`;
const LOGIN_UID = sh`printf 'uid\\0%s\\0' "$(id -u)"`;

export function reusePrevious(u: RemoteUpload): Shell {
  const parts: Shell[] = [sh`set -e; mkdir -p ${u.releases}; rm -rf -- ${u.partial}`];
  if (u.previous) parts.push(u.previous.copy ? sh`cp -a -- ${u.previous.dir} ${u.partial}` : sh`cp -al -- ${u.previous.dir} ${u.partial}`);
  else parts.push(sh`mkdir -- ${u.partial}`);
  parts.push(sh`cd ${u.partial}`);
  if (u.remove && 'paths' in u.remove && u.remove.paths.length) parts.push(sh`rm -rf -- ${u.remove.paths}`);
  if (u.remove && 'file' in u.remove) parts.push(sh`xargs -0 rm -rf -- < ${u.remove.file}; rm -f -- ${u.remove.file}`);
  parts.push(sh`tar -xf - ${u.untar} --no-same-owner --no-same-permissions`);
  if (u.manifest) {
    const m = u.manifest;
    const tmp = `${m.dest}.tmp`;
    const add = m.add.length ? `${m.add.join('\n')}\n` : '';
    parts.push(
      sh`mkdir -p ${path.dirname(m.dest)}; { printf '%s\n' ${m.header}; { sed -n ${m.ranges} ${m.prev} | sed 's/^,//'; printf '%s' ${add}; } | sed '1!s/^/,/'; printf ']}\n'; } > ${tmp}`,
      sh`s=$( (sha256sum < ${tmp} || shasum -a 256 < ${tmp}) 2>/dev/null | cut -c1-64); printf 'sha\\0%s\\0' "$s"; if [ "$s" = ${m.expect} ]; then mv -f -- ${tmp} ${m.dest}; else rm -f -- ${tmp}; fi`,
    );
  }
  if (u.previous) parts.push(SEAL_FILES);
  parts.push(LOGIN_UID);
  parts.push(sh`printf 'types\\0'; find . -printf '%y' 2>/dev/null || true; printf '\\0'`);
  return new Shell(parts.map((p) => p.text).join('\n'));
}

/** Parses the records `reusePrevious` prints. */
export function parseRecords(out: string): Map<string, string> {
  const parts = out.split('\0');
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) m.set(parts[i].replace(/^\n+/, ''), parts[i + 1]);
  return m;
}

