/**
 * A deterministic stand-in for a real build (a Node app with its production
 * node_modules, or a Next.js/Vite output): many small JS/JSON/CSS files, some medium
 * ones, a few large; part compressible text, part incompressible (images, fonts, wasm).
 * The same seed, file count and size always give the same bytes and names.
 */
import { mkdirSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import path from 'node:path';

/** mulberry32: a small seeded PRNG, plenty for picking sizes and bytes. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'const let var function return if else for while import export default from async await new this ' +
  'class extends super null undefined true false typeof instanceof Object Array Promise Map Set JSON ' +
  'module exports require props state value index length push map filter reduce forEach then catch ' +
  'render component createElement useState useEffect options config handler request response error ' +
  'data result item key name type id path url event target window document console log warn'
).split(' ');
const PUNCT = ['(', ')', '{', '}', ';', ',', '.', ' = ', ' => ', '\n', '\n  ', ': ', '[', ']', ' + ', ' && '];

/** Pseudo-source text: compresses about like minified JS does (3–4× with gzip). */
function textPool(r: () => number, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = r() < 0.8 ? WORDS[Math.floor(r() * WORDS.length)] : `_${Math.floor(r() * 4000).toString(36)}`;
    const p = PUNCT[Math.floor(r() * PUNCT.length)];
    parts.push(w, p);
    n += w.length + p.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, bytes);
}

/** Incompressible bytes (images, fonts, wasm). */
function binaryPool(r: () => number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(Math.floor(r() * 4294967296), i);
  return b;
}

interface Kind {
  share: number;
  ext: string[];
  min: number;
  max: number;
  text: boolean;
  where: 'modules' | 'public' | 'chunks' | 'media';
}

// Sizes are drawn log-uniformly between min and max, then all scaled to the target total.
const KINDS: Kind[] = [
  { share: 0.55, ext: ['.js', '.cjs', '.mjs'], min: 300, max: 12_000, text: true, where: 'modules' },
  { share: 0.12, ext: ['.json'], min: 100, max: 4_000, text: true, where: 'modules' },
  { share: 0.08, ext: ['.d.ts', '.js.map'], min: 1_000, max: 30_000, text: true, where: 'modules' },
  { share: 0.06, ext: ['.css'], min: 500, max: 20_000, text: true, where: 'public' },
  { share: 0.1, ext: ['.md', '.txt', '.html'], min: 200, max: 6_000, text: true, where: 'modules' },
  { share: 0.06, ext: ['.png', '.jpg', '.webp', '.svgz'], min: 2_000, max: 80_000, text: false, where: 'media' },
  { share: 0.02, ext: ['.woff2', '.woff'], min: 10_000, max: 80_000, text: false, where: 'media' },
  { share: 0.01, ext: ['.js', '.js', '.js', '.wasm'], min: 50_000, max: 600_000, text: true, where: 'chunks' },
];
const LARGE = [
  { name: 'public/media/intro.mp4', size: 3_000_000, text: false },
  { name: 'public/media/poster.jpg', size: 1_200_000, text: false },
  { name: '.next/static/chunks/framework.js', size: 2_500_000, text: true },
  { name: '.next/static/chunks/main-app.js', size: 1_800_000, text: true },
  { name: 'node_modules/@img/sharp-linux-x64/lib/libvips.so', size: 2_500_000, text: false },
  { name: 'node_modules/typescript/lib/typescript.js', size: 3_000_000, text: true },
  { name: 'node_modules/esbuild/bin/esbuild', size: 3_500_000, text: false },
  { name: 'public/fonts/inter-var.woff2', size: 900_000, text: false },
  { name: '.next/server/app/page.js', size: 1_100_000, text: true },
  { name: 'public/data/catalog.json', size: 2_000_000, text: true },
  { name: 'node_modules/prisma/query-engine.wasm', size: 2_500_000, text: false },
  { name: 'public/media/demo.webm', size: 3_000_000, text: false },
];

export interface GenPlan {
  files: { path: string; size: number; text: boolean; offset: number }[];
  bytes: number;
}

/** Which files, how big, and where their bytes come from; no disk access. */
export function planBuild(files: number, targetBytes: number, seed = 8): GenPlan {
  const r = rng(seed);
  const out: GenPlan['files'] = [];
  const taken = new Set<string>();
  const pkgs = Math.max(10, Math.round(files / 40));
  const name = (k: Kind, i: number): string => {
    const ext = k.ext[Math.floor(r() * k.ext.length)];
    const base = `${WORDS[Math.floor(r() * WORDS.length)]}-${i.toString(36)}${ext}`;
    if (k.where === 'modules') {
      const n = Math.floor(r() * pkgs);
      const scope = n % 5 === 0 ? `@scope-${n % 7}/` : '';
      const sub = ['lib', 'dist', 'dist/esm', 'src'][Math.floor(r() * 4)];
      const pkg = `pkg-${n.toString(36)}`;
      return `node_modules/${scope}${pkg}/${sub}/${base}`;
    }
    if (k.where === 'public') return `public/css/${Math.floor(r() * 12)}/${base}`;
    if (k.where === 'media') return `public/media/${Math.floor(r() * 30)}/${base}`;
    return `.next/static/chunks/${Math.floor(r() * 8)}/${base}`;
  };
  const large = files >= 1000 ? LARGE : [];
  const small = files - large.length - 1; // one more: app/version.js, the file the bench changes
  let i = 0;
  for (const k of KINDS) {
    const count = k === KINDS[KINDS.length - 1] ? small - i : Math.round(small * k.share);
    for (let j = 0; j < count; j++, i++) {
      const size = Math.round(Math.exp(Math.log(k.min) + r() * (Math.log(k.max) - Math.log(k.min))));
      let p = name(k, i);
      while (taken.has(p)) p = name(k, i);
      taken.add(p);
      out.push({ path: p, size, text: k.text && !p.endsWith('.wasm'), offset: 0 });
    }
  }
  for (const l of large) out.push({ path: l.name, size: l.size, text: l.text, offset: 0 });
  const sum = out.reduce((n, f) => n + f.size, 0);
  const scale = targetBytes / sum;
  let bytes = 0;
  for (const f of out) {
    f.size = Math.max(1, Math.round(f.size * scale));
    f.offset = Math.floor(r() * 1e9);
    bytes += f.size;
  }
  return { files: out, bytes };
}

const POOL = 8 * 1024 * 1024;

/**
 * Writes the planned build into `dir` (removed first). Each file's bytes are a slice of
 * a seeded text or binary pool at its own offset, with its path as a first line, so
 * no two files are alike.
 */
export function writeBuildTree(dir: string, plan: GenPlan, seed = 8): void {
  rmSync(dir, { recursive: true, force: true });
  const r = rng(seed ^ 0x5eed);
  const text = textPool(r, POOL);
  const bin = binaryPool(r, POOL);
  const made = new Set<string>();
  for (const f of plan.files) {
    const p = path.join(dir, f.path);
    const parent = path.dirname(p);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    const pool = f.text ? text : bin;
    const head = Buffer.from(`/* ${f.path} */\n`);
    const body = Buffer.alloc(Math.max(0, f.size - head.length));
    for (let o = 0; o < body.length; ) {
      const start = (f.offset + o) % (POOL - 1);
      const n = Math.min(body.length - o, POOL - start);
      pool.copy(body, o, start, start + n);
      o += n;
    }
    writeFileSync(p, f.size >= head.length ? Buffer.concat([head, body]) : head.subarray(0, f.size));
  }
  writeVersion(dir, 0);
}

/** The one file the incremental cases change: a small module with the build number. */
export function writeVersion(dir: string, n: number): void {
  mkdirSync(path.join(dir, 'app'), { recursive: true });
  writeFileSync(path.join(dir, 'app/version.js'), `export const build = ${n};\nexport const builtAt = 'run-${n}';\n`);
}

/** `count` sparse files of `size` bytes each (nothing on disk but their lengths). */
export function writeSparseTree(dir: string, count: number, size: number): void {
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < count; i++) {
    const p = path.join(dir, `blobs/${Math.floor(i / 100)}/blob-${i}.bin`);
    if (i % 100 === 0) mkdirSync(path.dirname(p), { recursive: true });
    closeSync(openSync(p, 'w'));
    truncateSync(p, size);
  }
  writeVersion(dir, 0);
}
