import os from 'node:os';
import path from 'node:path';
import type { HostConfig } from '../config/types.js';
import { LocalTransport } from './local.js';
import type { Transport } from './types.js';

/** The transport for a host: `local`, or SSH with ~/.ssh/config and known_hosts honoured. */
export async function createTransport(h: HostConfig, warn: (msg: string) => void): Promise<Transport> {
  if (h.local) return new LocalTransport(h.name);
  const { SshTransport } = await import('./ssh.js');
  const { resolveSshConfig, parseJump } = await import('./ssh-config.js');
  const sc = resolveSshConfig(h.address);
  const knownHosts = [...h.ssh.knownHosts, ...(sc.userKnownHostsFile ?? [path.join(os.homedir(), '.ssh/known_hosts')])];
  const common = {
    agent: h.ssh.agent,
    knownHosts,
    globalKnownHosts: h.ssh.globalKnownHosts ?? sc.globalKnownHostsFile ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    strictHostKeyChecking: h.ssh.strictHostKeyChecking,
    keepalive: h.ssh.keepalive,
    readyTimeout: h.ssh.readyTimeout,
    onWarning: warn,
  };
  // ProxyJump from ~/.ssh/config: one hop, resolved through the same file.
  let jump: import('./ssh.js').SshTransportOptions | undefined;
  if (sc.proxyJump) {
    const hop = parseJump(sc.proxyJump.split(',')[0].trim());
    const jc = resolveSshConfig(hop.host);
    jump = {
      ...common,
      name: `${h.name} (via ${hop.host})`,
      host: jc.hostName ?? hop.host,
      port: hop.port ?? jc.port ?? 22,
      user: hop.user ?? jc.user ?? localUser(),
      privateKey: jc.identityFile?.[0],
    };
  }
  return new SshTransport({
    ...common,
    name: h.name,
    host: sc.hostName ?? h.address,
    port: h.port ?? sc.port ?? 22,
    user: h.user ?? sc.user ?? localUser(),
    privateKey: h.ssh.privateKey ?? sc.identityFile?.[0],
    passphrase: h.ssh.passphrase,
    jump,
  });
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}
