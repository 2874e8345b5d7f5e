/**
 * Redaction for showing config: URL credentials and query values inside any text, and
 * whole values where the value itself is the secret (env, passphrase).
 */
export const REDACTED = '<redacted>';

const URL_RE = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"]*@)?([^\s?#'"]*)(\?[^\s#'"]*)?/gi;

/** `scheme://user:pass@host/path?a=1&b=2` -> `scheme://<redacted>@host/path?a=<redacted>&b=<redacted>`, wherever URLs occur in `text`. */
export function redactUrls(text: string): string {
  return text.replace(URL_RE, (_m, scheme: string, userinfo: string | undefined, rest: string, query: string | undefined) => {
    let out = scheme + (userinfo ? `${REDACTED}@` : '') + rest;
    if (query) {
      out += `?${query
        .slice(1)
        .split('&')
        .map((kv) => {
          const eq = kv.indexOf('=');
          return eq < 0 ? (kv ? REDACTED : kv) : `${kv.slice(0, eq)}=${REDACTED}`;
        })
        .join('&')}`;
    }
    return out;
  });
}

/** Every value of an environment map replaced; the names stay. */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, REDACTED]));
}
