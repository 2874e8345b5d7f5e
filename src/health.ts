import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Healthcheck } from './config/types.js';
import type { Ctx, HostRun } from './context.js';
import { ShipError } from './errors.js';
import { sh } from './shell.js';

export interface HttpResult {
  status: number;
  body: string;
}

/** One HTTP GET over an already open stream (the SSH direct-tcpip channel). */
export function httpGet(stream: Duplex, url: URL, timeoutMs: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no answer within ${timeoutMs}ms`));
    }, timeoutMs);
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseHttp(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    });
    stream.on('end', () => stream.destroy());
    stream.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ship-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
  });
}

export function parseHttp(raw: Buffer): HttpResult {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('incomplete HTTP response');
  const head = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head[0]);
  if (!m) throw new Error(`not an HTTP response: ${head[0].slice(0, 80)}`);
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (head.some((l) => /^transfer-encoding:\s*chunked/i.test(l))) body = dechunk(body);
  return { status: Number(m[1]), body: body.toString('utf8') };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const nl = b.indexOf('\r\n', i);
    if (nl < 0) break;
    const size = parseInt(b.subarray(i, nl).toString('latin1'), 16);
    if (!size) break;
    out.push(b.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
  return Buffer.concat(out);
}

async function once(ctx: Ctx, h: HostRun, hc: Healthcheck, url: URL): Promise<HttpResult> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let stream: Duplex;
  try {
    stream = await h.t.forward(port, url.hostname);
  } catch (e) {
    if (/prohibit|denied|refused by server/i.test((e as Error).message)) return viaCurl(h, hc, url);
    throw e;
  }
  if (url.protocol === 'https:') {
    // The host checks itself: its certificate names the public host, not 127.0.0.1.
    stream = tls.connect({ socket: stream as never, servername: url.hostname, rejectUnauthorized: false });
  }
  return httpGet(stream, url, hc.timeout);
}

/** Where the server forbids TCP forwarding: curl (or wget) on the host itself. */
async function viaCurl(h: HostRun, hc: Healthcheck, url: URL): Promise<HttpResult> {
  const secs = Math.max(1, Math.ceil(hc.timeout / 1000));
  const r = await h.t.exec(
    sh`if command -v curl >/dev/null 2>&1; then curl -sS -k --max-time ${secs} -w '\n%{http_code}' ${url.href}; else wget -q -S -O - -T ${secs} ${url.href} 2>&1; fi`,
  );
  const lines = r.stdout.replace(/\n$/, '').split('\n');
  const status = Number(lines.pop());
  if (!status) throw new Error(r.stderr.trim() || 'no answer');
  return { status, body: lines.join('\n') };
}

/** Checks a host's health, with retries. Throws a ShipError naming the host and why. */
export async function checkHealth(ctx: Ctx, h: HostRun, release: string): Promise<void> {
  const hc = h.cfg.healthcheck;
  if (!hc) return;
  const url = new URL(hc.url);
  const want = hc.contains?.replaceAll('{release}', release);
  let last = '';
  for (let attempt = 1; attempt <= hc.retries + 1; attempt++) {
    try {
      const r = await once(ctx, h, hc, url);
      const ok = r.status === hc.expect && (!want || r.body.includes(want));
      last = r.status !== hc.expect ? `status ${r.status}, expected ${hc.expect}` : ok ? '' : `body lacks ${JSON.stringify(want)}`;
      ctx.events.emit({ type: 'health', host: h.name, ok, status: r.status, attempt, message: last || undefined });
      if (ok) return;
    } catch (e) {
      last = (e as Error).message;
      ctx.events.emit({ type: 'health', host: h.name, ok: false, attempt, message: last });
    }
    if (attempt <= hc.retries) await new Promise((r) => setTimeout(r, hc.interval));
  }
  throw new ShipError(`${h.name}: health check ${hc.url} failed after ${hc.retries + 1} tries: ${last}`, {
    host: h.name,
    reason: 'health',
    hint: 'look at the app log on that host; the release was rolled back',
  });
}
