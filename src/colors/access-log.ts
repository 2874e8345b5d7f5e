/**
 * Reading the router's access log for the canary (docs/blue-green.md, "The weighted canary and how the gates read"):
 * only the bytes written since the last read, in bounded chunks, each line folded into
 * the per-color tallies at once, so the deployer's memory does not grow with the log.
 *
 * A cursor remembers the log's inode and the byte offset read up to. The log is followed
 * through a symlink (`stat -L`); a new inode (the log was rotated) is read from its
 * start, as is a log shorter than the offset (truncated in place). One window reads at
 * most `cap` bytes: beyond that, it reads the last `cap` bytes and says so.
 */
import type { HostRun } from '../context.js';
import { run } from '../context.js';
import { CommandError } from '../errors.js';
import { sh } from '../shell.js';
import { foldLine, type Color, type Tally } from './gates.js';

/** Bytes one window reads at most from one host's log. */
export const WINDOW_CAP = 64 * 1024 * 1024;
/** Bytes fetched by one command. */
export const CHUNK = 1 * 1024 * 1024;
/** A "line" longer than this without a newline is not a log line of ours: skipped. */
const MAX_LINE = 64 * 1024;

/** Where reading one host's access log stands. */
export interface LogCursor {
  file: string;
  /** Inode of the file read ('' while there was none). */
  inode: string;
  /** Bytes of that file already read (up to the end of the last whole line). */
  offset: number;
}

export interface WindowRead {
  /** Bytes fetched from the host in this read. */
  bytes: number;
  /** Whole lines folded. */
  lines: number;
  /** The log had a new inode, or was shorter than the offset: read from its start. */
  rotated: boolean;
  /** More than `cap` new bytes: this many at the window's start were skipped. */
  skipped: number;
}

/** Inode and size of the file `file` names, following symlinks; undefined when missing. */
export async function logStat(h: HostRun, file: string): Promise<{ inode: string; size: number } | undefined> {
  const r = await run(h, sh`if [ -e ${file} ]; then stat -L -c '%i %s' -- ${file}; fi`, `reading the size of the router's access log ${file}`, { readOnly: true });
  const m = /^(\d+) (\d+)\s*$/.exec(r.stdout);
  return m ? { inode: m[1], size: Number(m[2]) } : undefined;
}

/** A cursor at the end of the log as it is now: where a canary window starts. */
export async function logCursor(h: HostRun, file: string): Promise<LogCursor> {
  const s = await logStat(h, file);
  return { file, inode: s?.inode ?? '', offset: s?.size ?? 0 };
}

/**
 * Reads what was written to the log since `cursor` (moving it on) and folds every whole
 * line into `into` by the port each color listens on. At most `cap` bytes; a line still
 * being written at the end is left for the next read.
 */
export async function readWindow(
  h: HostRun,
  cursor: LogCursor,
  ports: Record<Color, number>,
  into: Record<Color, Tally>,
  opts: { cap?: number; chunk?: number } = {},
): Promise<WindowRead> {
  const cap = opts.cap ?? WINDOW_CAP;
  const chunk = Math.min(opts.chunk ?? CHUNK, cap);
  const out: WindowRead = { bytes: 0, lines: 0, rotated: false, skipped: 0 };
  const s = await logStat(h, cursor.file);
  if (!s) return out;
  if (s.inode !== cursor.inode || s.size < cursor.offset) {
    out.rotated = cursor.inode !== '' || cursor.offset > 0;
    cursor.inode = s.inode;
    cursor.offset = 0;
  }
  const end = s.size;
  // Too much to read: the newest `cap` bytes, from the first whole line in them.
  let partialFirst = false;
  if (end - cursor.offset > cap) {
    out.skipped = end - cap - cursor.offset;
    cursor.offset = end - cap;
    partialFirst = true;
  }
  let carry = '';
  let pos = cursor.offset;
  while (pos < end) {
    const len = Math.min(chunk, end - pos);
    // The inode is checked again in the same command: a log rotated during the read ends it
    // there; the next read starts the new file from its beginning.
    const cmd = sh`[ "$(stat -L -c %i -- ${cursor.file} 2>/dev/null)" = ${cursor.inode} ] || exit 3; tail -c +${pos + 1} -- ${cursor.file} | head -c ${len}`;
    const r = await h.t.exec(cmd, { readOnly: true });
    if (r.code === 3) break;
    if (r.code !== 0) throw new CommandError(h.name, `reading the router's access log ${cursor.file}`, { ...r, stdout: '' });
    const got = Math.min(len, Buffer.byteLength(r.stdout));
    if (!got) break;
    out.bytes += got;
    pos += got;
    let text = carry + r.stdout;
    if (partialFirst) {
      const nl = text.indexOf('\n');
      if (nl < 0) {
        cursor.offset += Buffer.byteLength(text);
        carry = '';
        continue;
      }
      cursor.offset += Buffer.byteLength(text.slice(0, nl + 1));
      text = text.slice(nl + 1);
      partialFirst = false;
    }
    const last = text.lastIndexOf('\n');
    if (last >= 0) {
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0 && nl <= last; nl = text.indexOf('\n', from)) {
        foldLine(text.slice(from, nl), ports, into);
        out.lines++;
        from = nl + 1;
      }
      cursor.offset += Buffer.byteLength(text.slice(0, last + 1));
    }
    carry = text.slice(last + 1);
    if (carry.length > MAX_LINE) {
      cursor.offset += Buffer.byteLength(carry);
      carry = '';
    }
  }
  return out;
}
