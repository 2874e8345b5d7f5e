/** One plain HTTP GET (no keep-alive), for tests that look at what a server answers. */
import http from 'node:http';

export interface Fetched {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function fetchText(url: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}
