/**
 * A small OpenSSH known_hosts reader (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").
 *
 * Understood: plain host patterns and comma lists, `[host]:port` entries (port 22 is
 * written without brackets), hashed `|1|salt|hash` entries (HMAC-SHA1 of the same host
 * string), wildcards `*` and `?`, negation `!pattern`, `@revoked` (the key is refused
 * for the hosts it names) and `@cert-authority` (ship does not verify host
 * certificates: a host named only by such a line is refused, see certAuthorityFor). Lines starting with `#` and blank lines are skipped.
 *
 * The one place ship deviates from OpenSSH, on purpose: when the host is known only
 * with keys of OTHER types than the one the server presented, OpenSSH calls that a new
 * key ("unknown key type") and `accept-new` would add it. ship prefers the known key
 * types during key exchange (see `knownKeyTypes`), so a server that still has its old
 * key presents it; a server that no longer does has changed its identity. ship reports
 * that as `changed`, which is refused in every mode.
 */
import { createHash, createHmac } from 'node:crypto';
import { promises as fsp, readFileSync, mkdirSync, appendFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';

export type HostKeyStatus = 'ok' | 'unknown' | 'changed' | 'revoked';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The raw host field (patterns or a hashed `|1|salt|hash`). */
  hosts: string;
  keyType: string;
  key: string;
}

/** The string OpenSSH matches and hashes: `host` on port 22, `[host]:port` otherwise. */
export function hostString(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Parses one file's text. Malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string, file = '(inline)'): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: skip the line
    }
    if (fields.length < 3) return;
    const [hosts, keyType, key] = fields;
    out.push({ file, line: i + 1, marker, hosts, keyType, key });
  });
  return out;
}

/** Glob match with `*` and `?` (case-insensitive), as OpenSSH's match_pattern. */
export function matchPattern(s: string, pattern: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.+()|[\]{}]/g, '\\$&')))
        .join('') +
      '$',
    'is',
  );
  return re.test(s);
}

/** Does an entry's host field name this host? A matching `!pattern` vetoes the line. */
export function entryMatches(hosts: string, host: string, port: number): boolean {
  const target = hostString(host, port);
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(target).digest('base64');
    return mac === hash;
  }
  let positive = false;
  for (const p of hosts.split(',')) {
    if (!p) continue;
    if (p.startsWith('!')) {
      if (matchPattern(target, p.slice(1))) return false;
    } else if (matchPattern(target, p)) {
      positive = true;
    }
  }
  return positive;
}

function readEntries(files: string[]): { entries: KnownHostEntry[]; read: string[] } {
  const entries: KnownHostEntry[] = [];
  const read: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // a missing file is just empty
    }
    read.push(f);
    entries.push(...parseKnownHosts(text, f));
  }
  return { entries, read };
}

function sameKey(a: string, b: string): boolean {
  try {
    return Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Checks a presented host key against known_hosts files.
 * - `revoked`: an `@revoked` line for this host holds this key (refuse in every mode)
 * - `ok`: a line for this host holds this key
 * - `changed`: lines for this host exist but none holds this key (same type or not; see top)
 * - `unknown`: no line names this host
 */
export function checkHostKey(files: string[], host: string, port: number, keyType: string, keyBase64: string): HostKeyStatus {
  const { entries } = readEntries(files);
  let known = false;
  let ok = false;
  for (const e of entries) {
    if (e.marker === 'cert-authority') continue;
    if (!entryMatches(e.hosts, host, port)) continue;
    const match = e.keyType === keyType && sameKey(e.key, keyBase64);
    if (e.marker === 'revoked') {
      if (match) return 'revoked';
      continue;
    }
    known = true;
    if (match) ok = true;
  }
  if (ok) return 'ok';
  return known ? 'changed' : 'unknown';
}

/**
 * The first `@cert-authority` line naming this host, if any. ship does not verify host
 * certificates: a host vouched for only by a CA is refused with a message naming it
 * (its plain key may be listed instead).
 */
export function certAuthorityFor(files: string[], host: string, port: number): KnownHostEntry | undefined {
  return readEntries(files).entries.find((e) => e.marker === 'cert-authority' && entryMatches(e.hosts, host, port));
}

/** The key types known for a host, in file order (to prefer them in key exchange). */
export function knownKeyTypes(files: string[], host: string, port: number): string[] {
  const types: string[] = [];
  for (const e of readEntries(files).entries) {
    if (e.marker) continue;
    if (entryMatches(e.hosts, host, port) && !types.includes(e.keyType)) types.push(e.keyType);
  }
  return types;
}

/** Appends `host keytype key` (dir 0700, file 0600 when created). */
export function addKnownHost(file: string, host: string, port: number, keyType: string, keyBase64: string): void {
  const dir = path.dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let prefix = '';
  if (existsSync(file)) {
    const size = statSync(file).size;
    if (size > 0) {
      const text = readFileSync(file, 'utf8');
      if (!text.endsWith('\n')) prefix = '\n';
    }
  }
  appendFileSync(file, `${prefix}${hostString(host, port)} ${keyType} ${keyBase64}\n`, { mode: 0o600 });
}

/** `SHA256:…` as `ssh-keygen -lf` prints it. */
export function fingerprint(keyBase64: string | Buffer): string {
  const blob = Buffer.isBuffer(keyBase64) ? keyBase64 : Buffer.from(keyBase64, 'base64');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

/** The known_hosts files that exist among `files` (for messages). */
export async function existingFiles(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    try {
      await fsp.access(f);
      out.push(f);
    } catch {
      /* missing */
    }
  }
  return out;
}
