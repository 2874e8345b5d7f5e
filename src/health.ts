import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Healthcheck } from './config/types.js';
import type { Ctx, HostRun } from './context.js';
import { ShipError } from './errors.js';
import { redactUrl } from './redact.js';
import { sh } from './shell.js';

export interface HttpResult {
  status: number;
  body: string;
}

/** Bodies beyond this are cut: a health page is small, and `contains` looks at the start. */
const MAX_BODY = 1024 * 1024;

/**
 * One HTTP/1.1 GET over an already open stream (an SSH direct-tcpip channel, or a
 * socket). Resolves as soon as the response is complete (Content-Length, chunked end,
 * or the server closing), so a server that ignores `Connection: close` does not make it
 * wait for the timeout. The caller owns the timeout and destroys the stream.
 */
export function httpGet(stream: Duplex, url: URL): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      stream.destroy();
      fn();
    };
    const tryParse = (final: boolean) => {
      const buf = Buffer.concat(chunks);
      const r = parseHttp(buf, final);
      if (r) finish(() => resolve(r));
      else if (final) finish(() => reject(new Error(size ? 'the connection closed before the response was complete' : 'the connection closed without an answer')));
    };
    stream.on('data', (d: Buffer) => {
      if (size >= MAX_BODY + 64 * 1024) return;
      chunks.push(d);
      size += d.length;
      try {
        tryParse(size >= MAX_BODY + 64 * 1024);
      } catch (e) {
        finish(() => reject(e));
      }
    });
    stream.on('error', (e) => finish(() => reject(e)));
    const onEnd = () => {
      try {
        tryParse(true);
      } catch (e) {
        finish(() => reject(e));
      }
    };
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    const path = `${url.pathname || '/'}${url.search}`;
    stream.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ship-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  });
}

/**
 * Parses a raw HTTP response. Returns undefined while it is incomplete (unless `final`:
 * the server closed, so whatever body arrived is the body). Throws on what is not HTTP.
 */
export function parseHttp(raw: Buffer, final = true): HttpResult | undefined {
  let start = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', start);
    if (end < 0) {
      if (raw.length - start >= 8 && !/^HTTP\/\d/.test(raw.subarray(start, start + 8).toString('latin1'))) {
        throw new Error(`not an HTTP response: ${JSON.stringify(raw.subarray(start, start + 60).toString('latin1'))}`);
      }
      if (final) throw new Error(raw.length ? 'incomplete HTTP response' : 'empty answer');
      return undefined;
    }
    const head = raw.subarray(start, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head[0]);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head[0].slice(0, 60))}`);
    const status = Number(m[1]);
    const bodyStart = end + 4;
    // 1xx interim answers (100 Continue) are followed by the real one.
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const header = (name: string) => head.slice(1).find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
    const body = raw.subarray(bodyStart);
    if (/chunked/i.test(header('transfer-encoding') ?? '')) {
      const d = dechunk(body);
      if (!d.complete && !final) return undefined;
      return { status, body: d.data.subarray(0, MAX_BODY).toString('utf8') };
    }
    const cl = header('content-length');
    if (cl !== undefined && /^\d+$/.test(cl)) {
      const n = Number(cl);
      if (body.length < n && !final && body.length < MAX_BODY) return undefined;
      return { status, body: body.subarray(0, Math.min(n, MAX_BODY)).toString('utf8') };
    }
    if (status === 204 || status === 304) return { status, body: '' };
    if (!final) return undefined;
    return { status, body: body.subarray(0, MAX_BODY).toString('utf8') };
  }
}

export function dechunk(b: Buffer): { data: Buffer; complete: boolean } {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const nl = b.indexOf('\r\n', i);
    if (nl < 0) break;
    const size = parseInt(b.subarray(i, nl).toString('latin1').split(';')[0].trim(), 16);
    if (Number.isNaN(size)) break;
    if (size === 0) return { data: Buffer.concat(out), complete: true };
    if (nl + 2 + size > b.length) {
      out.push(b.subarray(nl + 2));
      break;
    }
    out.push(b.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
  return { data: Buffer.concat(out), complete: false };
}

/** How a host's health checks travel: through the SSH connection, or curl/wget on the host. */
export type HealthVia = 'forward' | 'tool';
const via = new WeakMap<HostRun, HealthVia>();

/** True when an error from `forward` means the server forbids TCP forwarding. */
export function forwardingForbidden(e: unknown): boolean {
  const cause = (e as { cause?: { reason?: unknown } }).cause;
  // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1): OpenSSH's answer under AllowTcpForwarding no.
  if (cause && cause.reason === 1) return true;
  return /prohibited|forwarding (is )?disabled|open failed\s*$/i.test((e as Error)?.message ?? '');
}

/**
 * One request, forwarding first; the whole attempt (open, send, answer) within hc.timeout.
 * `redact`: values the answer may hold that must never reach output (the health token).
 */
export async function requestOnce(h: HostRun, hc: Pick<Healthcheck, 'timeout'>, url: URL, redact?: string[]): Promise<HttpResult> {
  if (via.get(h) === 'tool') return viaTool(h, hc, url, redact);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const address = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let timer: NodeJS.Timeout | undefined;
  let stream: Duplex | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      stream?.destroy();
      reject(new Error(`no answer within ${hc.timeout}ms`));
    }, hc.timeout);
  });
  const attempt = (async (): Promise<HttpResult | 'tool'> => {
    try {
      stream = await h.t.forward(port, address);
    } catch (e) {
      if (forwardingForbidden(e)) return 'tool';
      throw e;
    }
    if (timedOut) {
      stream.destroy();
      throw new Error('timed out');
    }
    if (url.protocol === 'https:') {
      // The host checks itself: its certificate names the public host, not 127.0.0.1.
      stream = tls.connect({ socket: stream as never, servername: /^[\d.:[\]]+$/.test(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false });
    }
    return httpGet(stream, url);
  })();
  attempt.catch(() => {}); // a late failure after the timeout won is not unhandled
  try {
    const r = await Promise.race([attempt, timeout]);
    if (r === 'tool') {
      via.set(h, 'tool');
      return viaTool(h, hc, url, redact);
    }
    via.set(h, 'forward');
    return r;
  } finally {
    clearTimeout(timer);
    stream?.destroy();
  }
}

const STATUS_MARK = '__ship_http_status__';
const STATUS_SED = String.raw`s/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p`;

/**
 * Where the server forbids TCP forwarding: curl (or wget) on the host itself. The
 * status comes after a marker on the last line, so any body is kept as it is.
 */
export async function viaTool(h: HostRun, hc: Pick<Healthcheck, 'timeout'>, url: URL, redact?: string[]): Promise<HttpResult> {
  const secs = Math.max(1, Math.ceil(hc.timeout / 1000));
  const r = await h.t.exec(
    // The URL (it may hold credentials) comes on stdin, so it is never in a process's argv.
    sh`IFS= read -r u || exit 125
if command -v curl >/dev/null 2>&1; then
  printf 'url = "%s"\n' "$(printf '%s' "$u" | sed 's/[\\\\"]/\\\\&/g')" | curl -sS -k --max-time ${secs} -w ${`\n${STATUS_MARK}%{http_code}`} -K -
elif command -v wget >/dev/null 2>&1; then
  h=$(mktemp) || exit 1
  printf '%s\n' "$u" | wget -q -S -O - -T ${secs} -t 1 --no-check-certificate --content-on-error -i - 2>"$h"
  rc=$?
  s=$(sed -n ${STATUS_SED} "$h" | tail -n 1)
  [ -n "$s" ] || echo "wget: no HTTP answer (wget exit $rc)" >&2
  rm -f "$h"
  printf ${'\n%s%s'} ${STATUS_MARK} "$s"
else
  echo 'neither curl nor wget is installed on the host, and it forbids TCP forwarding' >&2
  exit 127
fi`,
    { timeoutMs: hc.timeout + 2000, stdin: `${url.href}\n`, readOnly: true, redact },
  );
  const at = r.stdout.lastIndexOf(`\n${STATUS_MARK}`);
  const status = at >= 0 ? Number(r.stdout.slice(at + STATUS_MARK.length + 1).trim()) : 0;
  if (!status) throw new Error(r.stderr.trim().split('\n').pop() || `no answer (exit ${r.code})`);
  return { status, body: r.stdout.slice(0, at) };
}

/** Which way the last check of a host went (for `ship check` and messages). */
export function healthVia(h: HostRun): HealthVia | undefined {
  return via.get(h);
}

/** The failure text of one answer, or '' when it is healthy. */
export function judge(r: HttpResult, hc: Pick<Healthcheck, 'expect'>, want: string | undefined): string {
  if (r.status !== hc.expect) return `status ${r.status}, expected ${hc.expect}`;
  if (want && !r.body.includes(want)) return `the answer lacks ${JSON.stringify(want)} (got ${JSON.stringify(r.body.trim().slice(0, 80))})`;
  return '';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checks a host's health: the first try, then up to `retries` more, `interval` apart.
 * Emits a `health` event per try. Throws a ShipError naming the host and why.
 */
export async function checkHealth(ctx: Ctx, h: HostRun, release: string): Promise<void> {
  const hc = h.cfg.healthcheck;
  if (!hc) return;
  const url = new URL(hc.url);
  const want = hc.contains?.replaceAll('{release}', release);
  let last = '';
  let lastStatus: number | undefined;
  const tries = hc.retries + 1;
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      const r = await requestOnce(h, hc, url);
      last = judge(r, hc, want);
      lastStatus = r.status;
      ctx.events.emit({ type: 'health', host: h.name, ok: !last, status: r.status, attempt, message: last || undefined });
      if (!last) return;
    } catch (e) {
      last = ((e as Error).message || String(e)).replace(new RegExp(`^${escapeRe(h.name)}: `), '');
      lastStatus = undefined;
      ctx.events.emit({ type: 'health', host: h.name, ok: false, attempt, message: last });
    }
    // An interrupt does not cut this short: the batch in flight finishes (docs/architecture.md, The flow).
    if (attempt < tries) await sleep(hc.interval);
  }
  throw new ShipError(`${h.name}: health check ${redactUrl(hc.url)} failed after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${last}`, {
    host: h.name,
    reason: 'health',
    hint: lastStatus === undefined ? `is the app listening at ${url.host} on ${h.name}?` : `look at the app's log on ${h.name}`,
  });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
