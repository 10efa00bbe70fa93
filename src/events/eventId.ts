import { createHash } from 'node:crypto';

/** Parses a UUID string into the 16 bytes a name-based UUID hashes under. */
export const uuidBytes = (uuid: string): Buffer => Buffer.from(uuid.replace(/-/g, ''), 'hex');

/**
 * A version-5 UUID (RFC 9562: SHA-1 over namespace + name): the same name always gives the same
 * id. Used wherever a re-run must produce the same event id, so the store's id-idempotency drops it.
 */
export const uuidV5 = (name: string, namespace: Buffer): string => {
  const h = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
};
