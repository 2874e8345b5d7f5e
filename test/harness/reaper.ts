/**
 * What the harnesses started is always stopped: each registers its clean-up here, and it
 * runs at process exit and on SIGINT/SIGTERM, even when a test crashed.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';

const tasks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const task of [...tasks]) {
    try {
      task();
    } catch {
      /* the others still run */
    }
  }
  tasks.clear();
}

/** Runs `task` (synchronously) when the process exits or is interrupted. */
export function atExit(task: () => void): void {
  tasks.add(task);
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      runAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Processes to kill and directories to remove at exit. */
export class Reaper {
  readonly live = new Set<ChildProcess>();
  readonly dirs = new Set<string>();
  constructor(private readonly signal: NodeJS.Signals = 'SIGTERM') {
    atExit(() => this.reapSync());
  }
  reapSync(): void {
    for (const p of this.live) {
      try {
        if (p.pid) process.kill(p.pid, this.signal);
      } catch {
        /* already gone */
      }
    }
    this.live.clear();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends `signal` to a server the harness started and resolves once it has exited (at once if it has). */
export function stopChild(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.ref(); // unref'd while running: keep the loop alive until it is gone
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}
