#!/usr/bin/env node
// `npm run demo`: deploys the demo app with the local transport into ./.ship/demo.
// Like an operator putting .env on a new server once, it seeds shared/.env first.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = path.join(root, '.ship/demo/shared/.env');
if (!existsSync(env)) {
  mkdirSync(path.dirname(env), { recursive: true });
  writeFileSync(env, 'GREETING=hello from shared/.env\n');
  console.log(`seeded ${path.relative(root, env)}`);
}
const r = spawnSync(process.execPath, [path.join(root, 'bin/ship.js'), 'deploy', 'demo', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (r.status === 0) spawnSync(process.execPath, [path.join(root, 'bin/ship.js'), 'releases', 'demo'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
