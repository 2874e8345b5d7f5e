import type { HostConfig } from '../config/types.js';
import { LocalTransport } from './local.js';
import type { Transport } from './types.js';

/** The transport for a host: `local`, or SSH with ~/.ssh/config, ProxyJump chains and known_hosts honoured (resolve.ts). */
export async function createTransport(h: HostConfig, warn: (msg: string) => void): Promise<Transport> {
  if (h.local) return new LocalTransport(h.name, warn);
  const { SshTransport } = await import('./ssh.js');
  const { resolveConnection } = await import('./resolve.js');
  return new SshTransport(resolveConnection(h, warn).options);
}
