/**
 * Resolves a host alias through ~/.ssh/config (the `ssh-config` package), for the
 * options ship uses: HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile.
 * `Match exec` is never run (its criterion counts as not matching). `Include` is not
 * followed. Tokens: `~`, `%h` (the alias or HostName), `%d` (local home), `%u` (local
 * user), `%r` (remote user), `%p` (port), `%%`.
 */
import { readFileSync } from 'node:fs';
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const computed = SSHConfig.parse(text).compute(alias, { matchExec: false, ignoreCase: true }) as Record<string, string | string[]>;
  const home = os.homedir();
  let localUser = '';
  try {
    localUser = os.userInfo().username;
  } catch {
    /* no passwd entry */
  }
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
        c === '%' ? '%' : c === 'h' ? h : c === 'd' ? home : c === 'u' ? localUser : c === 'r' ? (out.user ?? localUser) : String(out.port ?? 22),
      );
  if (hostNameRaw) out.hostName = expand(hostNameRaw, alias);
  const h = out.hostName ?? alias;
  const ids = list(computed.identityfile);
  if (ids.length) out.identityFile = ids.map((f) => expand(f, h));
  const kh = list(computed.userknownhostsfile);
  if (kh.length) out.userKnownHostsFile = kh.map((f) => expand(f, h));
  const jump = first(computed.proxyjump);
  if (jump && jump.toLowerCase() !== 'none') out.proxyJump = jump;
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
