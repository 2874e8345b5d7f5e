/**
 * The package as npm users get it: `npm pack` of a copy of the sources (no dist/, so the
 * tarball has code only if `prepack` builds it), installed into scratch projects outside
 * the repository with the real npm.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tmpDir } from './ship.js';

/** What the source copy holds: everything a fresh clone has that a pack or build reads. */
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'templates', 'scripts', 'README.md', 'LICENSE', 'CHANGELOG.md'];

/** An environment as in a user's shell: no npm_* variables of the npm running the tests. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', CI: 'true', FORCE_COLOR: '0', ...extra };
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60 * 1000 });
}

export interface Packed {
  tarball: string;
  files: string[];
  size: number;
  unpackedSize: number;
  /** The copy the tarball was packed from. */
  srcDir: string;
}

/** `npm pack` of a fresh copy of the sources (node_modules linked, dist/ absent). */
export function packCopy(dirs: string[]): Packed {
  const src = tmpDir('ship-pack-src-');
  const out = tmpDir('ship-pack-out-');
  dirs.push(src, out);
  for (const f of SOURCES) if (existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(src, f), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  const r = run('npm', ['pack', '--json', '--pack-destination', out], src);
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}):\n${r.stderr}`);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0] as { filename: string; files: Array<{ path: string }>; size: number; unpackedSize: number };
  return { tarball: path.join(out, info.filename), files: info.files.map((f) => f.path).sort(), size: info.size, unpackedSize: info.unpackedSize, srcDir: src };
}

/** A scratch project (package.json given) in a temp dir, with the tarball npm-installed. */
export function installInto(tarball: string, pkg: object, dirs: string[], extraPackages: string[] = []): string {
  const d = tmpDir('ship-user-');
  dirs.push(d);
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const r = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...extraPackages], d);
  if (r.status !== 0) throw new Error(`npm install failed (${r.status}):\n${r.stderr}`);
  return d;
}
