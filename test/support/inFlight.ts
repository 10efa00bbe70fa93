import { request } from 'node:http';

export interface InFlight {
  /** Resolves once the server has read the request (its `100 Continue`): it is in flight there. */
  received: Promise<void>;
  /** The response, once it comes. */
  response: Promise<{ status: number; body: string }>;
}

/**
 * A GET sent with `Expect: 100-continue`: Node's HTTP server answers `100 Continue` as it hands the
 * parsed request to its handler, so a test knows when a request is in flight on the server (for a
 * signal or a write that must come after it) without guessing with a sleep.
 */
export const getInFlight = (url: string, headers: Record<string, string> = {}): InFlight => {
  let received!: () => void;
  const receivedPromise = new Promise<void>((r) => (received = r));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { headers: { ...headers, expect: '100-continue' } }, (res) => {
      received();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('continue', received);
    req.on('error', reject);
    req.end();
  });
  response.catch(() => undefined);
  return { received: receivedPromise, response };
};
