/**
 * Resolves a host alias through ~/.ssh/config, for the options ship uses: HostName,
 * User, Port, IdentityFile, ProxyJump, UserKnownHostsFile. ProxyCommand and HostKeyAlias
 * are read too, only so that resolve.ts can refuse or warn about them (ship uses neither).
 *
 * Where OpenSSH's client exists, `ssh -G` gives its exact answer (Include, Match and
 * all) — but only when no file of the config could make it run a command (`Match
 * exec`): then, and where there is no client, the `ssh-config` package reads the file,
 * with `Match exec` counting as not matching and `Include` not followed. Tokens: `~`,
 * `%h` (the alias or HostName), `%d` (local home), `%u` (local user), `%r` (remote
 * user), `%p` (port), `%%`.
 */
import { spawnSync } from 'node:child_process';
import { localUser } from '../local-user.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';

export interface ResolvedSshConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFile?: string[];
  /** As written (`user@host:port`, comma list); undefined for `none`. */
  proxyJump?: string;
  userKnownHostsFile?: string[];
  globalKnownHostsFile?: string[];
  /** As written; undefined for `none`. ship does not run it (resolve.ts refuses it). */
  proxyCommand?: string;
  /** ship does not use it: host keys are checked under the real host and port (resolve.ts warns). */
  hostKeyAlias?: string;
}

export function defaultSshConfigFile(): string {
  return path.join(os.homedir(), '.ssh', 'config');
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(/\s+/)).filter(Boolean);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Returns {} when the file is missing or the alias has no settings. */
export function resolveSshConfig(alias: string, file = defaultSshConfigFile()): ResolvedSshConfig {
  if (!existsSync(file)) return {};
  return viaSshG(alias, file) ?? viaParser(alias, file);
}

const MATCH_EXEC = /^\s*match\b.*\bexec\b/im;

/** True when the config, or a file it includes, has a `Match exec` (or cannot be read whole). */
export function configMayRunCommands(file: string, depth = 0): boolean {
  if (depth > 16) return true;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return depth > 0; // a missing include is harmless; an unreadable one is not known
  }
  if (MATCH_EXEC.test(text)) return true;
  for (const m of text.matchAll(/^\s*include\s+(.+)$/gim)) {
    for (const pattern of m[1].trim().split(/\s+/)) {
      const abs = pattern.replace(/^~(?=\/)/, os.homedir());
      const full = path.isAbsolute(abs) ? abs : path.join(os.homedir(), '.ssh', abs);
      // A glob may stand in any part of the path (~/.ssh/*/config), not only the last.
      for (const f of expandGlobPath(full)) if (configMayRunCommands(f, depth + 1)) return true;
    }
  }
  return false;
}

/** The existing paths a glob path names, every component expanded (as glob(3) does for Include). */
export function expandGlobPath(full: string): string[] {
  const parts = full.split('/').filter(Boolean);
  let found = ['/'];
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    const next: string[] = [];
    for (const base of found) {
      if (!/[*?[\]{}]/.test(part)) {
        const p = path.join(base, part);
        if (last || existsSync(p)) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const match = picomatch(part, { dot: true });
      for (const n of names.filter((x) => match(x))) next.push(path.join(base, n));
    }
    found = next;
  }
  return found;
}

/** The default identity files OpenSSH lists when none is configured. */
const DEFAULT_IDS = /^~\/\.ssh\/id_(rsa|dsa|ecdsa|ecdsa_sk|ed25519|ed25519_sk|xmss)$/;

function viaSshG(alias: string, file: string): ResolvedSshConfig | undefined {
  if (configMayRunCommands(file)) return undefined;
  const r = spawnSync('ssh', ['-G', '-F', file, '--', alias], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) return undefined;
  const values = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (m) values.set(m[1], [...(values.get(m[1]) ?? []), m[2]]);
  }
  const one = (k: string) => values.get(k)?.[0];
  const home = os.homedir();
  const tilde = (p: string) => p.replace(/^~(?=\/|$)/, home);
  const out: ResolvedSshConfig = {};
  const hostName = one('hostname');
  if (hostName && hostName !== alias) out.hostName = hostName;
  const user = one('user');
  if (user) out.user = user;
  const port = Number(one('port'));
  if (Number.isInteger(port) && port > 0 && port < 65536) out.port = port;
  const ids = values.get('identityfile') ?? [];
  // Only identity files the config names: OpenSSH's default list is ship's default too.
  if (ids.length && !ids.every((f) => DEFAULT_IDS.test(f))) out.identityFile = ids.map(tilde);
  const kh = (one('userknownhostsfile') ?? '').split(/\s+/).filter(Boolean);
  if (kh.length) out.userKnownHostsFile = kh.map(tilde);
  const gkh = (one('globalknownhostsfile') ?? '').split(/\s+/).filter(Boolean);
  if (gkh.length) out.globalKnownHostsFile = gkh.map(tilde);
  const jump = one('proxyjump');
  if (jump && jump.toLowerCase() !== 'none') out.proxyJump = jump;
  const command = one('proxycommand');
  if (command && command.toLowerCase() !== 'none') out.proxyCommand = command;
  const keyAlias = one('hostkeyalias');
  if (keyAlias && keyAlias.toLowerCase() !== 'none') out.hostKeyAlias = keyAlias;
  return out;
}

function viaParser(alias: string, file: string): ResolvedSshConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const computed = SSHConfig.parse(text).compute(alias, { matchExec: false, ignoreCase: true }) as Record<string, string | string[]>;
  const home = os.homedir();
  const me = localUser();
  const out: ResolvedSshConfig = {};
  const portText = first(computed.port);
  if (portText !== undefined) {
    const port = Number(portText);
    if (Number.isInteger(port) && port > 0 && port < 65536) out.port = port;
  }
  const user = first(computed.user);
  if (user) out.user = user;
  const hostNameRaw = first(computed.hostname);
  const expand = (s: string, h: string): string =>
    s
      .replace(/^~(?=\/|$)/, home)
      .replace(/%([%hdurp])/g, (_, c: string) =>
        c === '%' ? '%' : c === 'h' ? h : c === 'd' ? home : c === 'u' ? me : c === 'r' ? (out.user ?? me) : String(out.port ?? 22),
      );
  if (hostNameRaw) out.hostName = expand(hostNameRaw, alias);
  const h = out.hostName ?? alias;
  const ids = list(computed.identityfile);
  if (ids.length) out.identityFile = ids.map((f) => expand(f, h));
  const kh = list(computed.userknownhostsfile);
  if (kh.length) out.userKnownHostsFile = kh.map((f) => expand(f, h));
  const gkh = list(computed.globalknownhostsfile);
  if (gkh.length) out.globalKnownHostsFile = gkh.map((f) => expand(f, h));
  const jump = first(computed.proxyjump);
  if (jump && jump.toLowerCase() !== 'none') out.proxyJump = jump;
  const command = list(computed.proxycommand).join(' ');
  if (command && command.toLowerCase() !== 'none') out.proxyCommand = command;
  const keyAlias = first(computed.hostkeyalias);
  if (keyAlias && keyAlias.toLowerCase() !== 'none') out.hostKeyAlias = keyAlias;
  return out;
}

/** Parses one ProxyJump hop: `[user@]host[:port]` (also `ssh://user@host:port`). */
export function parseJump(hop: string): { user?: string; host: string; port?: number } {
  let s = hop.trim().replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let port: number | undefined;
  const m = /^\[(.*)\](?::(\d+))?$/.exec(s) ?? /^([^:]*)(?::(\d+))?$/.exec(s);
  let host = s;
  if (m) {
    host = m[1];
    if (m[2]) port = Number(m[2]);
  }
  return { user, host, port };
}
