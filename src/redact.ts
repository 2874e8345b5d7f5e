/**
 * What output, history and `ship config` may show of a secret.
 *
 * A URL keeps its scheme, host, port, path and query keys, so a message still says where;
 * the user name and password, every query value and the fragment become `***`
 * (`http://u:p@127.0.0.1:8080/healthz?token=abc` -> `http://***:***@127.0.0.1:8080/healthz?token=***`).
 * A value that is itself the secret (an env value, a passphrase) is replaced whole.
 */
export const REDACTED = '<redacted>';

export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.replace(/\/\/[^/@\s]*@/, '//***@').replace(/([?&][^=&#\s]*)=[^&#\s]*/g, '$1=***');
  }
  const auth = url.username || url.password ? `${url.username ? '***' : ''}${url.password ? ':***' : ''}@` : '';
  const query = url.search
    ? '?' +
      url.search
        .slice(1)
        .split('&')
        .map((kv) => (kv.includes('=') ? `${kv.slice(0, kv.indexOf('='))}=***` : kv))
        .join('&')
    : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}${query}${url.hash ? '#***' : ''}`;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi;

/** redactUrl applied to every URL found in `text` (commands, hooks, messages). */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => redactUrl(u));
}

/** Every value of an environment map replaced; the names stay. */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, REDACTED]));
}

/**
 * Control characters a remote (a hook's output, an error's text) may send, removed before
 * the text reaches a terminal, --json or history: whole escape sequences (CSI `ESC [ … X`,
 * OSC `ESC ] … BEL` or `ESC ] … ESC \` — an OSC 52 sets the operator's clipboard — and
 * other `ESC x` pairs), then every other C0 and C1 control and DEL. Newline and tab stay.
 */
export function stripControls(text: string): string {
  if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text)) return text;
  return text
    .replace(/(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g, '') // OSC … (BEL | ST), or unterminated to the end
    .replace(/(?:\x1b[P^_X]|[\x90\x9e\x9f\x98])[^\x1b\x9c]*(?:\x1b\\|\x9c)?/g, '') // DCS, PM, APC, SOS strings
    .replace(/(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?/g, '') // CSI
    .replace(/\x1b[\x20-\x2f]*[\x30-\x7e]?/g, '') // any other escape
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
}

/** Values shorter than this are not hidden: they would blank out ordinary words. */
export const MIN_SECRET_LENGTH = 4;

/** Each secret value replaced by `<redacted>` wherever it appears (longest first), then redactUrls. */
export function redactText(text: string, secrets: Iterable<string>): string {
  let s = text;
  const list = [...secrets].filter((v) => v.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const v of list) if (s.includes(v)) s = s.split(v).join(REDACTED);
  return redactUrls(s);
}

/**
 * Fields that name things ship itself chose (hosts, stages, release ids, step names, times)
 * and are never redacted; every other string of an event or a history line is.
 */
const NAMES = new Set([
  'type', 'time', 'host', 'hosts', 'stage', 'release', 'previous', 'step', 'steps', 'status', 'reason', 'level', 'kind', 'hook',
  'id', 'file', 'user', 'run', 'action', 'outcome', 'revision', 'states', 'releases', 'weights', 'pruned', 'removed', 'strategy', 'color',
]);

/**
 * The one redaction pass (docs/security.md, "Output and history"): every event a reporter
 * sees (src/events.ts), every error, every history line (src/host-state.ts) goes through
 * `scrub`. It knows the run's secret values: the stage's and hosts' env, every value a
 * command was given (ExecOptions.env) and every envFile value read for one; ship's own
 * SHIP_* values are not secrets. Text loses those values, URL credentials and query values,
 * and control characters (stripControls).
 */
export class Secrets {
  private values = new Set<string>();

  /** Remembers the values of `env` as secrets: SHIP_* excepted, but for the health token. */
  addEnv(env: Record<string, string> | undefined): void {
    for (const [k, v] of Object.entries(env ?? {})) if ((!k.startsWith('SHIP_') || k === 'SHIP_HEALTH_TOKEN') && typeof v === 'string') this.add(v);
  }

  add(value: string): void {
    if (value.length >= MIN_SECRET_LENGTH) this.values.add(value);
  }

  /** One text, redacted and without control characters. */
  text(s: string): string {
    return redactText(stripControls(s), this.values);
  }

  /** A copy of `o` (an event, a history line, an error's fields) with every free-text string passed through `text`. */
  scrub<T>(o: T): T {
    return this.walk(o, undefined, (o as { type?: unknown })?.type === 'summary') as T;
  }

  private walk(v: unknown, key: string | undefined, summary: boolean): unknown {
    if (key !== undefined && (NAMES.has(key) || (summary && key === 'command'))) return v;
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.walk(x, undefined, false));
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.walk(x, k, summary)]));
    }
    return v;
  }
}
