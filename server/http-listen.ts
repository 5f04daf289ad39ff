/** Listening on a port, with an error that names the port and the fix. */
import type { Server as HttpServer } from 'node:http';

/** Starts `http` listening; resolves with the port, or rejects with a ListenError naming the port and the fix. */
export async function listenOn(http: HttpServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why =
        err.code === 'EADDRINUSE'
          ? `port ${port} is in use: choose another --port, or 0 for a free one`
          : err.code === 'EACCES'
            ? `port ${port} needs privileges: choose a port above 1023`
            : err.code === 'EADDRNOTAVAIL'
              ? `address ${host} is not on this machine: choose another --host`
              : err.message;
      reject(Object.assign(new Error(`cannot listen on ${host}:${port}: ${why} [${err.code ?? 'error'}]`), { name: 'ListenError', fields: ['port'] }));
    };
    http.once('error', onError);
    http.listen(port, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
  const addr = http.address();
  return typeof addr === 'object' && addr !== null ? addr.port : port;
}
