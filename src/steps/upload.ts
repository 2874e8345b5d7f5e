import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { reusable, type Manifest } from '../build.js';
import type { Ctx, HostRun } from '../context.js';
import { forEachHost, run } from '../context.js';
import { checkInodes, freeSpace } from '../host-state.js';
import { sealFiles } from '../immutable.js';
import { InternalError, ShipError } from '../errors.js';
import { sh } from '../shell.js';
import type { Step } from './types.js';

/**
 * Sends the build into releases/<id>.partial on every host. Files whose path, mode and
 * sha256 match the host's previous release are hard-linked (or copied) there instead of
 * sent. Hosts with the same previous release share one archive, made once.
 */
export const upload: Step = {
  name: 'upload',
  description: 'send the build into releases/<id>.partial',
  async run(ctx, hosts) {
    const build = ctx.build;
    const id = ctx.release;
    if (!build || !id) throw new InternalError('upload before build/connect');

    const prev = new Map<HostRun, { id: string; manifest: Manifest; key: string } | undefined>();
    await Promise.all(hosts.map(async (h) => prev.set(h, await previousManifest(h))));
    if (ctx.opts.dryRun) {
      for (const h of hosts) {
        const p = prev.get(h);
        const reuse = reusable(build, p?.manifest);
        const sent = build.files.filter((f) => !reuse.has(f.path));
        ctx.events.log(
          `would upload release ${id}: send ${sent.length} files (${sent.reduce((n, f) => n + f.size, 0)} bytes)${p ? `, reuse ${reuse.size} from ${p.id}` : ''}`,
          h.name,
        );
      }
      return;
    }

    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ship-archive-'));
    const archives = new Map<string, Promise<{ file: string; size: number; entries: number }>>();
    try {
      await forEachHost(ctx, 'upload', hosts, async (h) => {
        const p = prev.get(h);
        const reuse = reusable(build, p?.manifest);
        const key = p && reuse.size ? p.key : 'full';
        if (!archives.has(key)) archives.set(key, makeArchive(ctx, tmp, key, reuse));
        const archive = await archives.get(key)!;

        await checkDiskSpace(h, build.files.filter((f) => !reuse.has(f.path)).reduce((n, f) => n + f.size, 0));
        await checkInodes(h, h.root, build.files.length + build.dirs.length + build.links.length);
        const partial = h.paths.partial(id);
        await run(h, sh`mkdir -p ${h.paths.releases} && rm -rf ${partial} && mkdir ${partial}`, `creating ${partial}`);
        h.cwd = partial;
        if (p && reuse.size) {
          const list = [...reuse].join('\0') + '\0';
          const cpFlags = ctx.stage.reuse === 'copy' ? '-p' : '--link';
          await run(
            h,
            sh`cd ${h.paths.release(p.id)} && xargs -0 cp -P ${cpFlags} --parents -t ${partial} --`,
            `reusing ${reuse.size} unchanged files from ${p.id}`,
            { stdin: list },
          );
        }
        if (archive.entries) {
          await run(
            h,
            sh`tar -xzf - -C ${partial} --no-same-owner --no-same-permissions`,
            `unpacking the release into ${partial}`,
            { stdin: createReadStream(archive.file) },
          );
          ctx.bytesSent += archive.size;
        }
        await sealFiles(ctx, h, partial); // before any hook can write into a file shared with the live release
        return `${build.files.length - reuse.size} sent, ${reuse.size} reused`;
      });
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  },
};

async function previousManifest(h: HostRun): Promise<{ id: string; manifest: Manifest; key: string } | undefined> {
  const candidates = [h.currentId, ...h.infos.filter((r) => r.state !== 'failed').map((r) => r.id).reverse()].filter(
    (x): x is string => !!x && h.dirs.includes(x),
  );
  for (const id of candidates) {
    const buf = await h.t.readFile(h.paths.manifest(id));
    if (!buf) continue;
    try {
      const manifest = JSON.parse(buf.toString('utf8')) as Manifest;
      return { id, manifest, key: createHash('sha256').update(buf).digest('hex') };
    } catch {
      continue;
    }
  }
  return undefined;
}

async function makeArchive(ctx: Ctx, tmp: string, key: string, reuse: Set<string>): Promise<{ file: string; size: number; entries: number }> {
  const build = ctx.build!;
  const list = [...build.dirs, ...build.links.map((l) => l.path), ...build.files.filter((f) => !reuse.has(f.path)).map((f) => f.path)].sort();
  const file = path.join(tmp, `${key.slice(0, 16)}.tar.gz`);
  if (!list.length) return { file, size: 0, entries: 0 };
  await tar.c(
    { file, cwd: build.dir, gzip: true, portable: true, noDirRecurse: true, follow: ctx.stage.build.followSymlinks, noPax: false },
    list.map((p) => `./${p}`),
  );
  return { file, size: (await fs.stat(file)).size, entries: list.length };
}

/** Refuses before writing when the host's disk cannot hold what it is about to receive. */
async function checkDiskSpace(h: HostRun, bytes: number): Promise<void> {
  const free = await freeSpace(h, h.root);
  if ('error' in free) return; // no df here: tar will say so if it runs out
  const freeKb = free.kb;
  const needKb = Math.ceil((bytes * 1.1) / 1024) + 1024;
  if (freeKb < needKb) {
    const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
    throw new ShipError(`${h.name}: not enough disk space in ${h.root}: ${mib(freeKb)} free, the release needs about ${mib(needKb)}`, {
      host: h.name,
      reason: 'disk-full',
      hint: `free space on ${h.name} (e.g. ship prune <stage> --keep 2), then deploy again`,
    });
  }
}
