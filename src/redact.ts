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
