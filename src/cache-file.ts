import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes a file of one of ship's local caches (the project's `.ship/cache`: build hashes,
 * manifests) atomically and without following anything planted in its way: the data goes
 * to a temp name with random bytes in it, created exclusively (`wx`, O_EXCL: a symlink or
 * file already at that name fails the write instead of being written through) with mode
 * 0600, then renamed over the file. See docs/security.md, "Local caches".
 */
export async function writeCacheFile(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { flag: 'wx', mode: 0o600 });
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}
