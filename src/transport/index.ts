import os from 'node:os';
import path from 'node:path';
import type { HostConfig } from '../config/types.js';
import { LocalTransport } from './local.js';
import type { Transport } from './types.js';

/** The transport for a host: `local`, or SSH with ~/.ssh/config and known_hosts honoured. */
export async function createTransport(h: HostConfig, warn: (msg: string) => void): Promise<Transport> {
  if (h.local) return new LocalTransport(h.name);
  const { SshTransport } = await import('./ssh.js');
  const { resolveSshConfig } = await import('./ssh-config.js');
  const sc = resolveSshConfig(h.address);
  const home = os.homedir();
  const knownHosts = [
    ...h.ssh.knownHosts,
    ...(sc.userKnownHostsFile ?? [path.join(home, '.ssh/known_hosts')]),
  ];
  return new SshTransport({
    name: h.name,
    host: sc.hostName ?? h.address,
    port: h.port ?? sc.port ?? 22,
    user: h.user ?? sc.user ?? os.userInfo().username,
    privateKey: h.ssh.privateKey ?? sc.identityFile?.[0],
    passphrase: h.ssh.passphrase,
    agent: h.ssh.agent,
    knownHosts,
    strictHostKeyChecking: h.ssh.strictHostKeyChecking,
    keepalive: h.ssh.keepalive,
    readyTimeout: h.ssh.readyTimeout,
    onWarning: warn,
  });
}
