import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseIsoMs } from '../../src/events/parseIsoMs.js';

// parseIsoMs must give what Date.parse gives for every string, and must take its fast path (the
// digits, with the day cached) for the shape nearly every event has.

const base = '2026-11-20T10:11:12.345Z';
const same = (s: string) => expect([s, parseIsoMs(s)]).toEqual([s, Date.parse(s)]);

describe('parseIsoMs', () => {
  afterEach(() => vi.restoreAllMocks());

  it('equals Date.parse for every one-character change of a time, at every place', () => {
    for (let i = 0; i < base.length; i++) {
      // '(' opens a comment for V8's lenient fallback parser, and it reads up to a NUL: both make
      // Date.parse accept strings the fast path must not read as digits.
      for (const c of '/0123456789:-T.Zz +a\u0660(\u0000') same(base.slice(0, i) + c + base.slice(i + 1));
    }
  });

  it('equals Date.parse when a character follows the usual shape', () => {
    for (const c of 'Z0 (\u0000') same(base + c);
  });

  it('equals Date.parse on the edges of each field, and on other lengths and shapes', () => {
    for (const s of [
      '2026-11-20T23:59:59.999Z',
      '2026-11-20T24:00:00.000Z',
      '2026-11-20T24:30:00.000Z',
      '2026-11-20T24:00:00.001Z',
      '2026-11-20T25:00:00.000Z',
      '2026-11-20T00:60:00.000Z',
      '2026-11-20T00:00:60.000Z',
      '2024-02-29T12:00:00.000Z',
      '2026-02-29T12:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-11-31T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '2026-11-20T10:11:12.34Z',
      '2026-11-20T10:11:12.3456Z',
      '2026-11-20T10:11:12Z',
      '2026-11-20T10:11:12.345+02:00',
      '2026-11-20T10:11:12.345',
      '',
    ]) {
      same(s);
    }
  });

  it('keeps days apart: a cached day is never applied to another', () => {
    const days = ['2026-11-20', '2026-11-21', '2026-11-20', '2027-01-01', '1999-12-31', '2026-11-21'];
    for (const day of days) {
      same(`${day}T00:00:00.000Z`);
      same(`${day}T13:14:15.016Z`);
    }
    same('2026-11-2xT00:00:00.000Z');
    same('2026-11-20T00:00:00.000Z');
  });

  it('computes the usual shape from its digits: Date.parse runs once per new day, not once per time', () => {
    const parse = vi.spyOn(Date, 'parse');
    const day = '2031-05-06';
    for (let s = 0; s < 60; s++) parseIsoMs(`${day}T10:11:${String(s).padStart(2, '0')}.500Z`);
    // The first and last of each field too: midnight and whole seconds are the usual shape.
    for (const time of ['00:00:00.000', '23:59:59.999', '12:00:00.000', '00:00:00.001']) parseIsoMs(`${day}T${time}Z`);
    expect(parse).toHaveBeenCalledTimes(1);
    expect(parse).toHaveBeenCalledWith(`${day}T00:00:00.000Z`);
    parse.mockRestore();
    expect(parseIsoMs(`${day}T10:11:59.500Z`)).toBe(Date.UTC(2031, 4, 6, 10, 11, 59, 500));
    expect(parseIsoMs(`${day}T23:59:59.999Z`)).toBe(Date.UTC(2031, 4, 6, 23, 59, 59, 999));
  });
});
