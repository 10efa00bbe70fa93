import { createReadStream } from 'node:fs';
import { addAbortSignal, type Readable } from 'node:stream';
import { RollcallError } from '../errors.js';

export interface OpenInputOptions {
  /** Bytes per read (default 64 KiB). */
  chunkSize?: number;
  /** Stops the read, even one waiting on an idle pipe, with `interrupted`. */
  signal?: AbortSignal;
  /** Told the size of each chunk read (for a progress bar). */
  onRead?: (bytes: number) => void;
}

/**
 * An input opened for one read: a file, a FIFO, `/dev/stdin`, `<(…)`, or `-` for stdin. A signal
 * stops even a read that waits for data (an idle pipe), so SIGINT never hangs on a quiet producer;
 * a read that fails is one `io` error naming the input, an aborted one `interrupted`.
 */
export async function* openInput(path: string, options: OpenInputOptions = {}): AsyncGenerator<Uint8Array> {
  const { signal, onRead } = options;
  let input: NodeJS.ReadableStream & AsyncIterable<Uint8Array>;
  try {
    input = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: options.chunkSize ?? 1 << 16 });
    if (signal) addAbortSignal(signal, input as Readable);
  } catch (cause) {
    throw new RollcallError('io', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    for await (const chunk of input) {
      onRead?.(chunk.length);
      yield chunk;
    }
  } catch (cause) {
    if (signal?.aborted) throw new RollcallError('interrupted', `interrupted by ${String(signal.reason ?? 'an abort')}`);
    throw new RollcallError('io', `cannot read ${path === '-' ? 'stdin' : path}: ${(cause as Error).message}`, { cause });
  }
}
