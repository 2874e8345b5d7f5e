/**
 * A bounded load loop for the zero-downtime tests: a few workers send requests to
 * 127.0.0.1 over HTTP/1.1 keep-alive, one after another, and record every request's
 * start time, latency, status and verdict. Each page's response can name follow-up
 * requests (the page's assets) that are sent right after it, on the same worker.
 *
 *   const load = startLoad({ urls: [...], check, workers: 4 });
 *   ... deploy, roll back ...
 *   const report = await load.stop();
 *
 * It stops by itself after `maxMs` (default 5 minutes) or `maxRequests`, whichever comes
 * first, so a test that forgets to stop it still ends.
 *
 * Retry rule (what browsers do, RFC 9110 §9.2.2): when a request on a *reused* keep-alive
 * connection fails before any byte of a response arrived (the server closed the idle
 * connection as the request went out: nginx does so to idle connections on a reload), it
 * is sent once more on a new connection. Such retries are counted and reported; any other
 * error, a timeout, or a response the check rejects is a failure.
 */
import http from 'node:http';

export interface Sample {
  /** Date.now() when the request was sent. */
  start: number;
  ms: number;
  url: string;
  kind: 'page' | 'follow';
  status: number;
  ok: boolean;
  reason?: string;
  retried: boolean;
}

export interface Verdict {
  ok: boolean;
  reason?: string;
  /** Requests to send right after this one (e.g. the page's assets), each with its own check. */
  follow?: Array<{ url: string; check: (r: Response) => Verdict }>;
}

export interface Response {
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface LoadOptions {
  /** Page URLs, taken in turn by each worker. */
  urls: string[];
  check: (r: Response) => Verdict;
  workers?: number;
  /** Pause between two pages of one worker (keeps the 2 shared cores usable). */
  pauseMs?: number;
  maxMs?: number;
  maxRequests?: number;
  timeoutMs?: number;
  /**
   * Each worker keeps the cookies it is sent and sends them back, as a browser does;
   * 'per-page': a new visitor for each page (the jar is emptied before it).
   */
  cookies?: boolean | 'per-page';
}

export interface LoadReport {
  requests: number;
  failures: Sample[];
  retried: number;
  samples: Sample[];
  ms: number;
}

export interface LoadRun {
  stop(): Promise<LoadReport>;
  /** Samples so far (live array). */
  samples: Sample[];
}

export function startLoad(opts: LoadOptions): LoadRun {
  const workers = opts.workers ?? 4;
  const pauseMs = opts.pauseMs ?? 2;
  const maxMs = opts.maxMs ?? 5 * 60_000;
  const maxRequests = opts.maxRequests ?? 1_000_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers * 2 });
  const samples: Sample[] = [];
  const t0 = Date.now();
  let stopping = false;
  const done = () => stopping || Date.now() - t0 > maxMs || samples.length >= maxRequests;

  async function one(url: string, kind: Sample['kind'], check: (r: Response) => Verdict, jar?: Map<string, string>): Promise<Verdict | undefined> {
    const start = Date.now();
    let retried = false;
    let res: Response | undefined;
    let error: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      // The retry goes out on a new connection (the pool may hold more sockets the server closed).
      const r = await get(attempt === 0 ? agent : false, url, timeoutMs, jar);
      if ('response' in r) {
        res = r.response;
        error = undefined;
        break;
      }
      error = `${r.error}${r.reusedSocket ? ' (on a reused connection)' : ''}${attempt ? ' (retry on a new connection)' : ''}`;
      if (!(r.reusedSocket && r.beforeResponse) || attempt === 1) break;
      retried = true;
    }
    const ms = Date.now() - start;
    if (!res) {
      samples.push({ start, ms, url, kind, status: 0, ok: false, reason: error, retried });
      return undefined;
    }
    let verdict: Verdict;
    try {
      verdict = check(res);
    } catch (e) {
      verdict = { ok: false, reason: `check threw: ${(e as Error).message}` };
    }
    samples.push({ start, ms, url, kind, status: res.status, ok: verdict.ok, reason: verdict.reason, retried });
    return verdict;
  }

  async function worker(i: number): Promise<void> {
    let n = i;
    const jar = opts.cookies ? new Map<string, string>() : undefined;
    while (!done()) {
      const url = opts.urls[n++ % opts.urls.length];
      if (opts.cookies === 'per-page') jar?.clear();
      const v = await one(url, 'page', opts.check, jar);
      for (const f of v?.follow ?? []) await one(f.url, 'follow', f.check, jar);
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  const running = Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  const timer = setTimeout(() => (stopping = true), maxMs + 1000);
  timer.unref();
  return {
    samples,
    async stop() {
      stopping = true;
      await running;
      clearTimeout(timer);
      agent.destroy();
      return {
        requests: samples.length,
        failures: samples.filter((s) => !s.ok),
        retried: samples.filter((s) => s.retried).length,
        samples,
        ms: Date.now() - t0,
      };
    },
  };
}

type GetResult = { response: Response } | { error: string; reusedSocket: boolean; beforeResponse: boolean };

function get(agent: http.Agent | false, url: string, timeoutMs: number, jar?: Map<string, string>): Promise<GetResult> {
  return new Promise((resolve) => {
    let gotResponse = false;
    let settled = false;
    const finish = (r: GetResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const headers = jar?.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : undefined;
    const req = http.get(url, { agent, timeout: timeoutMs, headers }, (res) => {
      gotResponse = true;
      for (const c of res.headers['set-cookie'] ?? []) {
        const m = /^([^=;\s]+)=([^;]*)/.exec(c);
        if (m && jar) jar.set(m[1], m[2]);
      }
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('aborted', () => finish({ error: 'response aborted', reusedSocket: req.reusedSocket, beforeResponse: false }));
      res.on('error', (e) => finish({ error: `response: ${e.message}`, reusedSocket: req.reusedSocket, beforeResponse: false }));
      res.on('end', () => {
        if (!res.complete) return finish({ error: 'response incomplete', reusedSocket: req.reusedSocket, beforeResponse: false });
        finish({ response: { url, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') } });
      });
    });
    let timedOut = false;
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', (e) =>
      finish({
        error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(),
        reusedSocket: req.reusedSocket,
        // Only a connection closed under the request is retried, never a server that did not answer.
        beforeResponse: !gotResponse && !timedOut,
      }),
    );
  });
}

/** The q-quantile (0..1) of the latencies, in ms; NaN when there are none. */
export function quantile(samples: Sample[], q: number): number {
  if (!samples.length) return NaN;
  const v = samples.map((s) => s.ms).sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

/** Samples whose request started inside one of the windows [from, to]. */
export function within(samples: Sample[], windows: Array<[number, number]>): Sample[] {
  return samples.filter((s) => windows.some(([a, b]) => s.start >= a && s.start <= b));
}

export function outside(samples: Sample[], windows: Array<[number, number]>): Sample[] {
  return samples.filter((s) => !windows.some(([a, b]) => s.start >= a && s.start <= b));
}

export function describeFailures(failures: Sample[], max = 10): string {
  return failures
    .slice(0, max)
    .map((f) => `  ${new Date(f.start).toISOString()} ${f.url} -> ${f.status || 'no response'}: ${f.reason ?? ''}`)
    .join('\n');
}
