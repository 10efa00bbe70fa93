let lastDay = '';
let lastDayMs = 0;

const digits = (s: string, from: number, n: number): number => {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
};

/**
 * Milliseconds of an ISO time, as `Date.parse` gives them. The fold reads one per event, and
 * nearly all are `YYYY-MM-DDTHH:MM:SS.sssZ` with the day of the previous one, so that shape is
 * computed from its digits with the day cached; anything else goes to `Date.parse`. A property
 * test holds it equal to `Date.parse` on valid times.
 */
export const parseIsoMs = (iso: string): number => {
  const shaped =
    iso.length === 24 &&
    iso.charCodeAt(4) === 45 /* - */ &&
    iso.charCodeAt(7) === 45 &&
    iso.charCodeAt(10) === 84 /* T */ &&
    iso.charCodeAt(13) === 58 /* : */ &&
    iso.charCodeAt(16) === 58 &&
    iso.charCodeAt(19) === 46 /* . */ &&
    iso.charCodeAt(23) === 90; /* Z */
  if (!shaped) return Date.parse(iso);
  // Compared in place: a slice per call was most of what the fold allocated here.
  if (lastDay === '' || !iso.startsWith(lastDay)) {
    // Stryker disable next-line ArithmeticOperator: only whether the sum is NaN is read, and - keeps a NaN as + does
    if (Number.isNaN(digits(iso, 0, 4) + digits(iso, 5, 2) + digits(iso, 8, 2))) return Date.parse(iso);
    const day = iso.slice(0, 10);
    const ms = Date.parse(`${day}T00:00:00.000Z`);
    // Stryker disable next-line ConditionalExpression: a day of digits whose midnight Date.parse refuses (month 13, 31 November) makes every time of it NaN to Date.parse too, and a cached NaN day gives NaN
    if (Number.isNaN(ms)) return Date.parse(iso);
    lastDay = day;
    lastDayMs = ms;
  }
  const h = digits(iso, 11, 2);
  const m = digits(iso, 14, 2);
  const sec = digits(iso, 17, 2);
  const milli = digits(iso, 20, 3);
  if (!(h < 24 && m < 60 && sec < 60 && milli >= 0)) return Date.parse(iso);
  return lastDayMs + ((h * 60 + m) * 60 + sec) * 1000 + milli;
};
