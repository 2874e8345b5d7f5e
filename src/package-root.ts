import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * ship's own package directory (its package.json, templates/), found from where this code
 * sits: src/ under tsx, dist/ as compiled, dist/bundle/ as the CLI runs it. Never the project's.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`ship's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return (root = dir);
}
