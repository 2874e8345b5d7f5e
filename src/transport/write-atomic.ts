import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import type { Transport } from './types.js';

/**
 * Writes a file on a host atomically: a temporary name in the same directory (made if
 * missing), renamed over `file`, so a reader sees the old file or the new one, never half.
 */
export async function writeAtomic(t: Transport, file: string, data: string | Buffer): Promise<void> {
  const dir = path.dirname(file);
  await t.mkdirp(dir);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(4).toString('hex')}`);
  await t.writeFile(tmp, data, { mode: 0o644 });
  try {
    await t.rename(tmp, file);
  } catch (e) {
    await t.remove(tmp).catch(() => {});
    throw e;
  }
}
