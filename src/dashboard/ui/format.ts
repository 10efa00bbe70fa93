/** "42 s", "12 min", "5 h 3 min", "3 d 4 h": an age an operator reads at a glance. */
export const formatAge = (ms: number): string => {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
};

/** An ISO time from the log, shorter: "2026-11-20 10:00:05Z". */
export const formatTime = (iso: string | null): string => (iso === null ? '—' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
