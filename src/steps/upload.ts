import { gunzipSync, gzipSync } from 'node:zlib';
import path from 'node:path/posix';
import { compressed, FanOut, hasLocalZstd, tarStream, untarFlags, type ArchiveSpec, type Compression } from '../archive.js';
import type { Manifest } from '../build.js';
import type { Ctx, HostRun } from '../context.js';
import { forEachHost, localCacheDir, newRelease, run } from '../context.js';
import { checkInodes, diskNeedKb, freeSpace, hostFacts } from '../host-state.js';
import { warnIfRoot } from '../immutable.js';
import { CommandError, ShipError } from '../errors.js';
import { ManifestCache, parseManifest, sha256, type ParsedManifest } from '../manifest-text.js';
import { parseRecords, planReuse, reusePrevious, sedRanges, type RemoteUpload, type ReusePlan } from '../reuse.js';
import { allHashed, hashCacheFile, hashJob, saveHashCache } from '../scan.js';
import { sh } from '../shell.js';
import type { Step } from './types.js';
import { hostReleases } from '../releases.js';

/**
 * Sends the build into releases/<id>.partial on every host. A host with a previous
 * release gets a hard-linked copy of it (`reuse: copy`: a copy) minus what changed, plus
 * an archive of what is new; hosts that need the same bytes share one archive, made once
 * while it is sent. See docs/upload.md.
 */
export const upload = {
  name: 'upload',
  description: 'send the build into releases/<id>.partial',
  /** Says what each host would receive and reuse; fetched manifests stay out of the local cache. */
  preview: (ctx, hosts): Promise<void> => upload.run(ctx, hosts, true),
  async run(ctx, hosts, preview = false) {
    const { id, build } = newRelease(ctx, 'upload');
    const cache = new ManifestCache(path.join(localCacheDir(ctx), 'manifests'));

    // Hosts on the same previous release share one parsed manifest and one reuse plan: a
    // fleet costs the memory of one host, not one copy per host.
    const known = new Map<string, Promise<ParsedManifest | undefined>>();
    const prev = new Map<HostRun, { id: string; parsed: ParsedManifest } | undefined>();
    await Promise.all(hosts.map(async (h) => prev.set(h, await previousManifest(h, cache, !preview, known))));
    // Which files a host can keep is known only from every hash; a host without a
    // previous release needs none of them before its archive starts.
    if (hosts.some((h) => prev.get(h))) await allHashed(build);

    const head = manifestHead(ctx);
    const reuses = new Map<string, ReusePlan>();
    const reuseOf = (parsed: ParsedManifest): ReusePlan => {
      let r = reuses.get(parsed.sha256);
      if (!r) reuses.set(parsed.sha256, (r = planReuse(build, parsed, head)));
      return r;
    };
    const plans = new Map<HostRun, HostPlan>();
    for (const h of hosts) plans.set(h, await planHost(ctx, h, prev.get(h), reuseOf));

    if (preview) {
      for (const h of hosts) {
        const p = plans.get(h)!;
        const bytes = p.spec.files.reduce((n, f) => n + f.size, 0);
        ctx.events.log(
          `would upload release ${id}: send ${p.spec.files.length} files (${bytes} bytes)${p.prevId ? `, reuse ${p.reuse?.reused.size ?? 0} from ${p.prevId}` : ''}${p.compress !== 'none' ? `, ${p.compress}-compressed` : ''}`,
          h.name,
        );
      }
      return;
    }

    // Waves of at most `concurrency` hosts; in a wave, one archive per distinct payload.
    const size = ctx.stage.concurrency;
    for (let i = 0; i < hosts.length; i += size) {
      const wave = hosts.slice(i, i + size);
      const producers = new Map<string, { fan: FanOut; spec: ArchiveSpec }>();
      const branches = new Map<HostRun, ReturnType<FanOut['branch']>>();
      for (const h of wave) {
        const p = plans.get(h)!;
        if (!p.sends) continue;
        let prod = producers.get(p.key);
        if (!prod) {
          prod = { fan: new FanOut(compressed(tarStream(p.spec), p.compress, p.gzipLevel)), spec: p.spec };
          producers.set(p.key, prod);
        }
        branches.set(h, prod.fan.branch());
      }
      await forEachHost(ctx, 'upload', wave, async (h) => {
        const p = plans.get(h)!;
        const branch = branches.get(h);
        try {
          await checkDiskSpace(h, p.needBytes);
          await checkInodes(h, h.root, build.files.length + build.dirs.length + build.links.length);
          const listed = await removeList(h, p, id);
          const cmd = reusePrevious({ ...p.remote, ...listed });
          h.cwd = h.paths.partial(id);
          const started = branch ? producers.get(p.key)!.fan : undefined;
          const exec = h.t.exec(cmd, { stdin: branch ?? Buffer.alloc(1024) });
          started?.start();
          const r = await exec;
          if (r.code !== 0) throw new CommandError(h.name, `unpacking the release into ${h.paths.partial(id)}`, r);
          if (started) ctx.bytesSent += started.size;
          const out = parseRecords(r.stdout);
          await verifyTree(h, id, out.get('types'), p);
          warnIfRoot(ctx, h, out.get('uid'));
          if (listed.manifest && p.reuse?.manifest && out.get('sha') === sha256(p.reuse.manifest.text)) {
            manifestOnHost.set(h, p.reuse.manifest.text);
            await cache.put(p.reuse.manifest.text);
          }
          return `${p.spec.files.length} sent, ${p.reuse?.reused.size ?? 0} reused`;
        } finally {
          branch?.destroy();
        }
      });
    }
    await allHashed(build);
    await saveHashCache(build, hashCacheFile(localCacheDir(ctx), ctx.stage.build.dir)).catch(() => {});
    ctx.events.debug(`upload: ${hashJob(build)?.read ?? 0} files read for hashing ahead of the archive`);
  },
} satisfies Step;

/** Manifests the upload already made on a host (text, as the host holds it). */
export const manifestOnHost = new WeakMap<HostRun, string>();

interface HostPlan {
  prevId?: string;
  reuse?: ReusePlan;
  spec: ArchiveSpec;
  sends: boolean;
  key: string;
  compress: Compression;
  gzipLevel: number;
  remote: RemoteUpload;
  needBytes: number;
}

/** The manifest fields besides files, as the link step writes them. */
export function manifestHead(ctx: Ctx): Omit<Manifest, 'files'> {
  const build = ctx.build!;
  return { release: ctx.release!, revision: build.revision, ...(build.dirty ? { dirty: true } : {}), links: build.links, shared: [...ctx.stage.shared.dirs, ...ctx.stage.shared.files] };
}

async function planHost(ctx: Ctx, h: HostRun, prev: { id: string; parsed: ParsedManifest } | undefined, reuseOf: (prev: ParsedManifest) => ReusePlan): Promise<HostPlan> {
  const build = ctx.build!;
  const id = ctx.release!;
  const { how, level } = await chooseCompression(ctx, h);
  const copy = ctx.stage.reuse === 'copy';
  const base: RemoteUpload = { releases: h.paths.releases, partial: h.paths.partial(id), untar: untarFlags(how) };
  // A previous manifest from an older ship does not say which shared links its release holds: start empty.
  const reuse = prev && prev.parsed.manifest.shared ? reuseOf(prev.parsed) : undefined;
  if (reuse && reuse.reused.size) {
    const spec: ArchiveSpec = { build, ...reuse.send };
    const m = reuse.manifest;
    return {
      prevId: prev!.id,
      reuse,
      spec,
      sends: true,
      key: `${prev!.parsed.sha256}:${how}`,
      compress: how,
      gzipLevel: level,
      needBytes: spec.files.reduce((n, f) => n + f.size, 0) + (copy ? build.bytes : 0),
      remote: {
        ...base,
        previous: { dir: h.paths.release(prev!.id), copy },
        manifest: m && {
          prev: h.paths.manifest(prev!.id),
          dest: h.paths.manifest(id),
          header: m.header,
          ranges: sedRanges(m.keep),
          add: m.add,
          expect: sha256(m.text),
        },
      },
    };
  }
  const spec: ArchiveSpec = { build, dirs: build.dirs, files: build.files, links: build.links };
  return { prevId: prev?.id, spec, sends: true, key: `full:${how}`, compress: how, gzipLevel: level, needBytes: build.bytes, remote: base };
}

/** Beyond this, the removal list and the manifest lines go by file, not in the command. */
const INLINE_MAX = 48 * 1024;

async function removeList(h: HostRun, p: HostPlan, id: string): Promise<Pick<RemoteUpload, 'remove' | 'manifest'>> {
  const paths = p.reuse?.remove ?? [];
  const m = p.remote.manifest;
  const inline = paths.reduce((n, x) => n + x.length + 3, 0) + (m ? m.header.length + m.ranges.length + m.add.reduce((n, x) => n + x.length + 1, 0) : 0);
  if (inline <= INLINE_MAX) return { remove: { paths }, manifest: m };
  // Many changes: the list goes by file; the link step writes the manifest.
  const file = path.join(h.paths.meta, `upload-${id}.remove`);
  await h.t.mkdirp(h.paths.meta);
  await h.t.writeFile(file, paths.map((x) => `${x}\0`).join(''));
  return { remove: { file }, manifest: undefined };
}

/**
 * After unpacking: the .partial must hold exactly the build's files, links and dirs. When
 * the previous release held something its manifest does not name, it is removed here.
 */
async function verifyTree(h: HostRun, id: string, types: string | undefined, p: HostPlan): Promise<void> {
  if (!types) return; // no GNU find on the host: nothing to compare
  const build = p.spec.build;
  const count = (c: string) => types.split(c).length - 1;
  const ok = () => count('f') === build.files.length && count('l') === build.links.length && count('d') === build.dirs.length + 1;
  if (ok()) return;
  const partial = h.paths.partial(id);
  const r = await run(h, sh`cd ${partial} && find . -mindepth 1 -print0`, `listing ${partial}`);
  const want = new Set([...build.files.map((f) => f.path), ...build.links.map((l) => l.path), ...build.dirs]);
  const extra = r.stdout
    .split('\0')
    .filter(Boolean)
    .map((x) => x.replace(/^\.\//, ''))
    .filter((x) => !want.has(x));
  const top = extra.filter((x) => !extra.includes(path.dirname(x)));
  if (top.length) await run(h, sh`cd ${partial} && xargs -0 rm -rf --`, `removing ${top.length} stray entries from ${partial}`, { stdin: top.map((x) => `${x}\0`).join('') });
  const again = await run(h, sh`cd ${partial} && find . -printf '%y'`, `checking ${partial}`);
  const c = (ch: string) => again.stdout.split(ch).length - 1;
  if (c('f') !== build.files.length || c('l') !== build.links.length || c('d') !== build.dirs.length + 1) {
    throw new ShipError(`${h.name}: ${partial} does not hold the build after unpacking (${c('f')} files, ${c('l')} links, ${c('d') - 1} dirs; expected ${build.files.length}, ${build.links.length}, ${build.dirs.length})`, {
      host: h.name,
      reason: 'upload',
    });
  }
}

/**
 * The manifest of the release the host builds on: current, else its newest release. Known
 * from the local cache when the host's hash matches; else fetched gzip'd (a cold deployer).
 * `known` holds what other hosts already loaded, by hash: each manifest is parsed once.
 */
async function previousManifest(h: HostRun, cache: ManifestCache, store: boolean, known: Map<string, Promise<ParsedManifest | undefined>>): Promise<{ id: string; parsed: ParsedManifest } | undefined> {
  const facts = hostFacts(h);
  const failed = new Set(hostReleases(h).filter((r) => r.state === 'failed').map((r) => r.id));
  const ids = [h.currentId, ...[...facts.manifests.keys()].reverse()].filter((x): x is string => !!x && h.dirs.includes(x) && !failed.has(x) && facts.manifests.has(x));
  for (const id of ids) {
    const hash = facts.manifests.get(id)!;
    const shared = known.get(hash);
    let parsed = shared && (await shared);
    if (!parsed) {
      // Nobody had it, or the host that loaded it could not: this host reads its own.
      const mine = loadManifest(h, id, hash, cache, store);
      if (!shared) known.set(hash, mine);
      parsed = await mine;
    }
    if (parsed) return { id, parsed };
  }
  return undefined;
}

async function loadManifest(h: HostRun, id: string, hash: string, cache: ManifestCache, store: boolean): Promise<ParsedManifest | undefined> {
  const cached = await cache.get(hash);
  if (cached) return cached;
  const text = await fetchManifest(h, h.paths.manifest(id));
  if (text === undefined || sha256(text) !== hash) return undefined;
  const parsed = parseManifest(text);
  if (parsed && store) await cache.put(text);
  return parsed;
}

async function fetchManifest(h: HostRun, file: string): Promise<string | undefined> {
  if (hostFacts(h).tools.has('gzip')) {
    const r = await h.t.exec(sh`gzip -c < ${file} | base64`, { readOnly: true });
    if (r.code === 0) {
      try {
        return gunzipSync(Buffer.from(r.stdout, 'base64')).toString('utf8');
      } catch {
        /* fall through */
      }
    }
  }
  return (await h.t.readFile(file))?.toString('utf8');
}

/** Writes a manifest on a host: gzip'd through the host's gzip when it has one. */
export async function writeManifest(h: HostRun, id: string, text: string): Promise<void> {
  const dest = h.paths.manifest(id);
  await h.t.mkdirp(h.paths.manifests);
  if (hostFacts(h).tools.has('gzip')) {
    await run(h, sh`gzip -dc > ${dest}.tmp && mv -f -- ${dest}.tmp ${dest}`, `writing ${dest}`, { stdin: gzipSync(text, { level: 6 }) });
  } else await h.t.writeFile(dest, text);
}

/**
 * `upload.compress`. auto: nothing on the local transport, loopback and private networks
 * (the link is faster than any compressor on a small machine); zstd when both ends have
 * it; else gzip at level 1 (never gzip -6 of what may not compress).
 */
async function chooseCompression(ctx: Ctx, h: HostRun): Promise<{ how: Compression; level: number }> {
  const want = ctx.stage.upload.compress;
  const hostZstd = hostFacts(h).tools.has('zstd');
  if (want === 'none') return { how: 'none', level: 0 };
  if (want === 'gzip') return { how: 'gzip', level: 6 };
  if (want === 'zstd') {
    if (hostZstd && (await hasLocalZstd())) return { how: 'zstd', level: 3 };
    ctx.events.warn(`upload.compress is zstd but ${hostZstd ? 'this machine' : 'the host'} has no zstd: using gzip`, h.name);
    return { how: 'gzip', level: 6 };
  }
  if (h.cfg.local || nearby(h.cfg.address)) return { how: 'none', level: 0 };
  if (hostZstd && (await hasLocalZstd())) return { how: 'zstd', level: 3 };
  return { how: 'gzip', level: 1 };
}

/** Loopback or a private network address. */
export function nearby(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    a === 'localhost' ||
    a === '::1' ||
    /^127\./.test(a) ||
    /^10\./.test(a) ||
    /^192\.168\./.test(a) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(a) ||
    /^f[cd][0-9a-f]{2}:/.test(a) ||
    /^fe80:/.test(a)
  );
}

/** Refuses before writing when the host's disk cannot hold what it is about to receive. */
async function checkDiskSpace(h: HostRun, bytes: number): Promise<void> {
  let freeKb = hostFacts(h).freeKb;
  if (freeKb === undefined) {
    const free = await freeSpace(h, h.root);
    if ('error' in free) return; // no df here: tar will say so if it runs out
    freeKb = free.kb;
  }
  const needKb = diskNeedKb(bytes);
  if (freeKb < needKb) {
    const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
    throw new ShipError(`${h.name}: not enough disk space in ${h.root}: ${mib(freeKb)} free, the release needs about ${mib(needKb)}`, {
      host: h.name,
      reason: 'disk-full',
      hint: `free space on ${h.name} (e.g. ship prune <stage> --keep 2), then deploy again`,
    });
  }
}
