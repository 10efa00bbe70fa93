/** `1 pool`, `2 pools`, `0 pools`; `plural` for a noun that does not take an s (`anomaly`, `anomalies`). */
export const counted = (n: number, noun: string, plural = `${noun}s`): string => `${n} ${n === 1 ? noun : plural}`;
