const MINUTE_MS = 60_000;
const pad2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const pad3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * `new Date(ms).toISOString()` for a clock that mostly moves forward: everything up to the minute
 * is cached, because toISOString alone costs as much as the rest of generating an event.
 */
export const createIsoFormatter = (): ((ms: number) => string) => {
  let minuteStart = Number.NaN;
  let prefix = '';
  return (ms) => {
    let t = ms - minuteStart;
    if (!(t >= 0 && t < MINUTE_MS)) {
      minuteStart = ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
      prefix = new Date(minuteStart).toISOString().slice(0, 17);
      t = ms - minuteStart;
    }
    return prefix + pad2[Math.floor(t / 1000)] + '.' + pad3[t % 1000] + 'Z';
  };
};
