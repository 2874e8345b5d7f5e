import path from 'node:path/posix';
import { withCarriedAssets } from '../assets.js';
import { forEachHost, localCacheDir, newRelease, run } from '../context.js';
import { ManifestCache, manifestText } from '../manifest-text.js';
import { sh } from '../shell.js';
import { manifestHead, manifestOnHost, writeManifest } from './upload.js';
import type { Step } from './types.js';

/**
 * Replaces shared paths in the new release with relative symlinks into shared/, then
 * writes REVISION and the manifest. shared/<dir> is created empty when missing; what the
 * build had there is dropped, never copied into shared/.
 */
export const link: Step = {
  name: 'link',
  description: 'link shared dirs and files, write REVISION and the manifest',
  async run(ctx, hosts) {
    const { id, build } = newRelease(ctx, 'link');
    const { dirs, files } = ctx.stage.shared;
    const cache = new ManifestCache(path.join(localCacheDir(ctx), 'manifests'));
    await forEachHost(ctx, 'link', hosts, async (h) => {
      const partial = h.paths.partial(id);
      for (const d of dirs) await h.t.mkdirp(path.join(h.paths.shared, d));
      for (const rel of [...dirs, ...files]) {
        const at = path.join(partial, rel);
        await run(h, sh`rm -rf -- ${at} && mkdir -p -- ${path.dirname(at)}`, `clearing ${rel} in the release`);
        await h.t.symlink(h.paths.sharedLinkTarget(rel), at);
      }
      // A reused REVISION is a hard link to an older release's file: replace it, never write into it.
      const revisionFile = path.join(partial, 'REVISION');
      await h.t.remove(revisionFile);
      if (build.revision) await h.t.writeFile(revisionFile, `${build.revision}\n`, { mode: 0o444 });
      const own = { ...manifestHead(ctx), files: build.files };
      const manifest = await withCarriedAssets(ctx, h, partial, own, build.dirs);
      // The upload made it on the host already unless asset files were carried in since.
      if (manifest !== own || !manifestOnHost.has(h)) {
        const text = manifestText(manifest);
        await writeManifest(h, id, text);
        await cache.put(text);
      }
    });
  },
  /** Nothing was uploaded: nothing to link. */
  async preview() {},
};
