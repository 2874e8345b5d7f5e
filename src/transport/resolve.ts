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
 */
import os from 'node:os';
import { localUser } from '../local-user.js';
import path from 'node:path';
import type { HostConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { SshTransportOptions } from './ssh.js';
import { parseJump, resolveSshConfig } from './ssh-config.js';

export type Source = 'config' | '~/.ssh/config' | 'default';

export interface Resolved {
  options: SshTransportOptions;
  /** Where each connection value came from. */
  sources: Record<'host' | 'port' | 'user' | 'privateKey' | 'proxyJump', Source>;
  /** The hops, first first, as `user@host:port`. */
  hops: string[];
}

const MAX_DEPTH = 8;

export function resolveConnection(h: HostConfig, warn: (msg: string) => void = () => {}): Resolved {
  const sc = resolveSshConfig(h.address);
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


