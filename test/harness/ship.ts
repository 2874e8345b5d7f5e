/**
 * Runs the real `ship` CLI in a child process, as a user would, and collects its
 * exit code, output and (with --json) events. Also small helpers for temp dirs,
 * configs and builds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'test/harness/cli-entry.ts');
// Resolved here, so the child finds tsx whatever directory it runs in.
const TSX = import.meta.resolve('tsx');

export interface ShipRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Parsed stdout lines when --json was given. */
  events: Array<Record<string, any>>;
}

export function spawnShip(args: string[], opts: { cwd: string; env?: Record<string, string>; uid?: number; gid?: number }): ChildProcess {
  // SHIP_TEST_BIN=bin/ship.js runs the built CLI instead (the benchmark does).
  const bin = process.env.SHIP_TEST_BIN;
  const argv = bin ? [path.resolve(ROOT, bin), ...args] : ['--import', TSX, ENTRY, ...args];
  return spawn(process.execPath, argv, {
    cwd: opts.cwd,
    env: { ...process.env, CI: 'true', FORCE_COLOR: '0', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // As another (unprivileged) user, for what root is never refused.
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
}

export function collect(child: ChildProcess, json: boolean): Promise<ShipRun> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const events = json
        ? stdout
            .split('\n')
            .filter((l) => l.trim())
            .map((l) => {
              try {
                return JSON.parse(l);
              } catch {
                return { type: 'unparsed', line: l };
              }
            })
        : [];
      resolve({ code, stdout, stderr, events });
    });
  });
}

/** `ship <args>` in `cwd`; resolves when it exits. */
export function ship(args: string[], opts: { cwd: string; env?: Record<string, string>; uid?: number; gid?: number }): Promise<ShipRun> {
  return collect(spawnShip(args, opts), args.includes('--json'));
}

export function tmpDir(prefix = 'ship-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmrf(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** Writes files (path -> content) under dir, making parents. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/** Writes ship.config.json into dir. */
export function writeConfig(dir: string, config: object): string {
  const file = path.join(dir, 'ship.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
