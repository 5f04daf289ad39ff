/** A loopback port that was free a moment ago and has nothing listening on it: where a connection is refused. */
import { createServer } from 'node:net';

export function closedPort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}
