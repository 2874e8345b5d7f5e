/**
 * An application stand-in for the backfill tests: one psql session that writes through
 * the old `street` column of `address` without pause, alternating an INSERT and an UPDATE
 * of a random existing row, and times every statement from the moment it is sent until
 * psql acknowledges it (`\echo`). A statement that waits for a row lock waits inside that
 * span, so the longest span bounds the longest lock wait; `lock_timeout` turns a wait
 * longer than that into a failed statement, which is counted.
 *
 *   const c = startSqlClient(url, { maxId: 1_000_000, lockTimeout: '5s' });
 *   …
 *   const r = await c.stop();   // { statements, failures, maxMs, errors }
 */
import { spawn } from 'node:child_process';

export interface SqlClientResult {
  statements: number;
  inserts: number;
  updates: number;
  failures: number;
  /** Longest statement, send to acknowledgement, in ms (an upper bound on its lock wait). */
  maxMs: number;
  /** The statement that took longest. */
  slowest: string;
  errors: string[];
}

export interface SqlClient {
  stop(): Promise<SqlClientResult>;
}

export function startSqlClient(url: string, opts: { maxId: number; lockTimeout?: string; seed?: number }): SqlClient {
  const proc = spawn('psql', [url, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const res: SqlClientResult = { statements: 0, inserts: 0, updates: 0, failures: 0, maxMs: 0, slowest: '', errors: [] };
  let buf = '';
  let waiting: { tag: string; resolve: () => void } | undefined;
  let exited = false;
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (waiting && line === waiting.tag) {
        const w = waiting;
        waiting = undefined;
        w.resolve();
      }
    }
  });
  proc.stderr.on('data', (d: Buffer) => {
    for (const l of d.toString('utf8').split('\n')) {
      if (/ERROR|FATAL/.test(l)) {
        res.failures++;
        if (res.errors.length < 20) res.errors.push(l.trim());
      }
    }
  });
  proc.on('exit', () => {
    exited = true;
    waiting?.resolve();
  });
  const send = (sql: string, n: number) =>
    new Promise<void>((resolve) => {
      const tag = `__done ${n}`;
      waiting = { tag, resolve };
      proc.stdin.write(`${sql}\n\\echo ${tag}\n`);
    });
  let seed = opts.seed ?? 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  let stopping = false;
  const loop = (async () => {
    await send(`set lock_timeout = '${opts.lockTimeout ?? '5s'}';`, 0);
    for (let n = 1; !stopping && !exited; n++) {
      const isInsert = n % 2 === 1;
      const sql = isInsert
        ? `insert into address (street) values ('Client Road ${n}');`
        : `update address set street = 'Moved Lane ${n}' where id = ${1 + Math.floor(rand() * opts.maxId)};`;
      const t0 = process.hrtime.bigint();
      await send(sql, n);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      res.statements++;
      if (isInsert) res.inserts++;
      else res.updates++;
      if (ms > res.maxMs) {
        res.maxMs = ms;
        res.slowest = sql;
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      proc.stdin.end('\\q\n');
      if (!exited) await new Promise((r) => proc.once('exit', r));
      res.maxMs = Math.round(res.maxMs * 10) / 10;
      return res;
    },
  };
}
