/**
 * A URL as output and history may show it: the user name and password are replaced by
 * `***`, and so is every query value and the fragment (tokens live there:
 * `http://u:p@127.0.0.1:8080/healthz?token=abc` -> `http://***:***@127.0.0.1:8080/healthz?token=***`).
 * Scheme, host, port, path and query keys stay, so the message still says where.
 */
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
