/** Listening on a port, with an error that names the port and the fix. */
import type { Server as HttpServer } from 'node:http';
import { CodedError } from '../shared/errors/catalogue.js';

/** The coordinator cannot listen where it was told: the message names the address, the fix and the errno code. */
export class ListenError extends CodedError<'listen'> {
  override readonly name = 'ListenError';
  /** The option at fault (`rfl` exits with the usage code, 2). */
  readonly fields = ['port'];

  /** `message` names the address and the fix. */
  constructor(message: string) {
    super('listen', message);
  }
}

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
      reject(new ListenError(`cannot listen on ${host}:${port}: ${why} [${err.code ?? 'error'}]`));
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
