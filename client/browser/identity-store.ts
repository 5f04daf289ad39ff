/// <reference lib="dom" />
/**
 * The browser client's long-term Ed25519 identity, kept in IndexedDB (database `robust-fl`, store `identities`,
 * keyed by client id) so that a reloaded page is the same client to the coordinator's enrolment. Keys are
 * tweetnacl's (64-byte secret = seed ‖ public key), the form the Node clients use.
 */
import nacl from 'tweetnacl';

const DB = 'robust-fl';
const STORE = 'identities';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB: open failed'));
  });
}

function request<T>(db: IDBDatabase, mode: IDBTransactionMode, run: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = run(db.transaction(STORE, mode).objectStore(STORE));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB: request failed'));
  });
}

/** The identity stored for `clientId`, made and stored on first use; `created` says which. */
export async function loadIdentity(clientId: string): Promise<{ identity: nacl.SignKeyPair; created: boolean }> {
  const db = await open();
  try {
    const stored = (await request(db, 'readonly', (s) => s.get(clientId))) as Uint8Array | undefined;
    if (stored instanceof Uint8Array && stored.length === nacl.sign.secretKeyLength) return { identity: nacl.sign.keyPair.fromSecretKey(stored), created: false };
    const identity = nacl.sign.keyPair();
    await request(db, 'readwrite', (s) => s.put(identity.secretKey, clientId));
    return { identity, created: true };
  } finally {
    db.close();
  }
}
