import type { Readable } from 'node:stream';

/**
 * Resolves with the first truthy value of `condition`, checked now and then every `intervalMs`:
 * for states no event announces (a row in another process's store, a counter). The timeout only
 * catches a hang; it rejects naming `what` (and the last value seen, if `describe` says it).
 */
export const waitFor = async <T>(
  what: string,
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => unknown } = {},
): Promise<NonNullable<T>> => {
  const { timeoutMs = 30_000, intervalMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      const seen = options.describe ? ` (last seen: ${JSON.stringify(options.describe(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
};

/**
 * Resolves with the first match of `pattern` in what `stream` has written (from now on, plus
 * `already` if given), as soon as it appears; rejects if the stream ends first or on a hang.
 */
export const outputMatching = (
  stream: Readable,
  pattern: RegExp,
  options: { timeoutMs?: number; already?: () => string } = {},
): Promise<RegExpExecArray> =>
  new Promise((resolve, reject) => {
    let text = options.already?.() ?? '';
    const done = () => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
    };
    const check = () => {
      const m = pattern.exec(text);
      if (!m) return false;
      done();
      resolve(m);
      return true;
    };
    const onData = (d: Buffer | string) => {
      text += d.toString();
      check();
    };
    const onEnd = () => {
      done();
      reject(new Error(`the output ended without ${pattern}: ${text.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${pattern} in the output within ${options.timeoutMs ?? 30_000} ms: ${text.slice(-2000)}`));
    }, options.timeoutMs ?? 30_000);
    if (check()) return;
    stream.on('data', onData);
    stream.on('end', onEnd);
  });
