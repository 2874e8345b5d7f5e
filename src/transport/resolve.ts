/**
 * How ship will connect to a host: the config's answers over ~/.ssh/config's over
 * OpenSSH's defaults, and the ProxyJump chain. createTransport builds the SSH transport
 * from it; `ship config` shows it (with where each value came from).
 *
 * ProxyJump: `ssh.proxyJump` in the config (a comma list or an array, first hop first;
 * 'none' for no jump) wins over ~/.ssh/config's `ProxyJump a,b`. Each hop is resolved
 * through ~/.ssh/config too (HostName, User, Port, IdentityFile, UserKnownHostsFile) and
 * its host key is checked like any host's. Hop n is reached through hop n-1's
 * `direct-tcpip` channel, the target through the last hop. As in OpenSSH, the first hop
 * may itself have a ProxyJump in ~/.ssh/config, which is followed (at most 8 deep).
 * A hop logs in as the user its spec or ~/.ssh/config names, else the local user (as
 * OpenSSH does); its key is the one ~/.ssh/config names, else the host's `ssh.privateKey`.
 *
 * Two ~/.ssh/config settings ship does not use are never silently ignored (docs/security.md,
 * "~/.ssh/config: what ship does not use"): a `ProxyCommand` (ship never runs a command to
 * connect) is refused — exit 2 naming the host — unless a ProxyJump (the config's
 * `ssh.proxyJump`, 'none' included, or ~/.ssh/config's) decides the route; a
 * `HostKeyAlias` is warned about: ship checks the key under the real `[host]:port`.
 */
import os from 'node:os';
import { localUser } from '../local-user.js';
import path from 'node:path';
import type { HostConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { SshTransportOptions } from './ssh.js';
import { parseJump, resolveSshConfig, type ResolvedSshConfig } from './ssh-config.js';

export type Source = 'config' | '~/.ssh/config' | 'default';

export interface Resolved {
  options: SshTransportOptions;
  /** Where each connection value came from. */
  sources: Record<'host' | 'port' | 'user' | 'privateKey' | 'proxyJump', Source>;
  /** The hops, first first, as `user@host:port`. */
  hops: string[];
}

const MAX_DEPTH = 8;

/** Refuses a ProxyCommand ship would otherwise skip; warns about a HostKeyAlias it does not use. */
function unsupported(h: HostConfig, who: string, alias: string, sc: ResolvedSshConfig, routed: boolean, warn: (msg: string) => void): void {
  if (sc.proxyCommand && !routed) {
    throw new ConfigError(undefined, [
      {
        path: `stages.*.hosts (${h.name})`,
        message: `~/.ssh/config gives ${who} ${alias} a ProxyCommand (${sc.proxyCommand}), which ship does not run: it would connect directly instead`,
        hint: `use ProxyJump in ~/.ssh/config or ssh.proxyJump in the config for a bastion, or ssh.proxyJump: 'none' to connect directly on purpose`,
      },
    ]);
  }
  if (sc.hostKeyAlias) {
    warn(`${h.name}: ~/.ssh/config sets HostKeyAlias ${sc.hostKeyAlias} for ${who} ${alias}; ship does not use it and checks the host key under the real host and port`);
  }
}

export function resolveConnection(h: HostConfig, warn: (msg: string) => void = () => {}): Resolved {
  const sc = resolveSshConfig(h.address);
  unsupported(h, 'host', h.address, sc, h.ssh.proxyJump !== undefined || sc.proxyJump !== undefined, warn);
  const defaultKnown = (files?: string[]) => [...h.ssh.knownHosts, ...(files ?? [path.join(os.homedir(), '.ssh/known_hosts')])];
  const common = {
    agent: h.ssh.agent,
    // The system-wide file is read in every mode: a key it contradicts is a changed key.
    globalKnownHosts: h.ssh.globalKnownHosts ?? sc.globalKnownHostsFile ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    strictHostKeyChecking: h.ssh.strictHostKeyChecking,
    keepalive: h.ssh.keepalive,
    readyTimeout: h.ssh.readyTimeout,
    onWarning: warn,
  };
  const jumpSpecs = h.ssh.proxyJump ?? (sc.proxyJump ? sc.proxyJump.split(',') : []);
  const hops: string[] = [];
  const chain = (specs: string[], depth: number): SshTransportOptions | undefined => {
    if (depth > MAX_DEPTH) throw new ConfigError(undefined, [{ path: `stages.*.hosts (${h.name})`, message: `ProxyJump chain deeper than ${MAX_DEPTH} hops (a loop in ~/.ssh/config?)` }]);
    let prev: SshTransportOptions | undefined;
    specs.forEach((spec, i) => {
      spec = spec.trim();
      const j = parseJump(spec);
      if (!j.host) throw new ConfigError(undefined, [{ path: `ssh.proxyJump (${h.name})`, message: `'${spec}' is not a hop`, hint: 'write [user@]host[:port]' }]);
      const jc = resolveSshConfig(j.host);
      // Only the first hop's own route counts (later hops are reached through the previous one).
      unsupported(h, 'jump host', j.host, jc, i > 0 || jc.proxyJump !== undefined, warn);
      const jump = i === 0 && jc.proxyJump ? chain(jc.proxyJump.split(','), depth + 1) : prev;
      const o: SshTransportOptions = {
        ...common,
        name: `jump host ${spec} (for ${h.name})`,
        host: jc.hostName ?? j.host,
        port: j.port ?? jc.port ?? 22,
        user: j.user ?? jc.user ?? localUser(),
        privateKey: jc.identityFile?.[0] ?? h.ssh.privateKey,
        passphrase: jc.identityFile?.[0] ? undefined : h.ssh.passphrase,
        knownHosts: defaultKnown(jc.userKnownHostsFile),
        jump,
      };
      hops.push(`${o.user}@${o.host}:${o.port}`);
      prev = o;
    });
    return prev;
  };
  const jump = chain(jumpSpecs, 0);
  const options: SshTransportOptions = {
    ...common,
    knownHosts: defaultKnown(sc.userKnownHostsFile),
    name: h.name,
    host: sc.hostName ?? h.address,
    port: h.port ?? sc.port ?? 22,
    user: h.user ?? sc.user ?? localUser(),
    privateKey: h.ssh.privateKey ?? sc.identityFile?.[0],
    passphrase: h.ssh.passphrase,
    jump,
  };
  const src = (cfg: unknown, ssh: unknown): Source => (cfg !== undefined ? 'config' : ssh !== undefined ? '~/.ssh/config' : 'default');
  return {
    options,
    hops,
    sources: {
      host: sc.hostName ? '~/.ssh/config' : 'config',
      port: src(h.port, sc.port),
      user: src(h.user, sc.user),
      privateKey: src(h.ssh.privateKey, sc.identityFile?.[0]),
      proxyJump: src(h.ssh.proxyJump, sc.proxyJump),
    },
  };
}


