import type { z } from 'zod';

// This file reads zod's private `_zod.def`, so zod is pinned to one exact version in package.json
// (a test checks the installed one is it). What it buys is measured by `npm run bench`: the same
// replay with zod alone deciding every event (docs/performance.md).

/** A predicate that returns true only where the zod schema it was compiled from surely accepts. */
export type Acceptor = (value: unknown) => boolean;

interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  values?: unknown[];
  format?: string;
  pattern?: RegExp;
}
interface CheckDef {
  check: string;
  format?: string;
  minimum?: number;
  value?: number;
  inclusive?: boolean;
}

const never: Acceptor = () => false;
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const compileNumber = (def: Def): Acceptor => {
  const tests: Array<(n: number) => boolean> = [Number.isFinite];
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'number_format' && c.format === 'safeint') tests.push(Number.isSafeInteger);
    else if (c.check === 'greater_than' && typeof c.value === 'number') {
      const min = c.value;
      tests.push(c.inclusive ? (n) => n >= min : (n) => n > min);
    } else if (c.check === 'less_than' && typeof c.value === 'number') {
      const max = c.value;
      tests.push(c.inclusive ? (n) => n <= max : (n) => n < max);
    } else return never;
  }
  return (v) => {
    if (typeof v !== 'number') return false;
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
    return true;
  };
};

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isDigit = (c: number) => c >= 48 && c <= 57;
const num = (s: string, from: number, n: number) => {
  let v = 0;
  for (let i = from; i < from + n; i++) v = v * 10 + s.charCodeAt(i) - 48;
  return v;
};

/** The common UUID shape (version 1–8, RFC variant) by character codes; a subset of zod's pattern. */
export const looksLikeUuid = (s: string): boolean => {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!isHex(c)) return false;
  }
  const version = s.charCodeAt(14);
  const variant = s.charCodeAt(19);
  return version >= 49 && version <= 56 && (variant === 56 || variant === 57 || variant === 97 || variant === 98 || variant === 65 || variant === 66);
};

/** `YYYY-MM-DDTHH:MM:SS.sssZ` with a real calendar date; a subset of zod's datetime pattern. */
export const looksLikeUtcMillis = (s: string): boolean => {
  if (s.length !== 24 || s.charCodeAt(23) !== 90) return false;
  for (let i = 0; i < 23; i++) {
    const c = s.charCodeAt(i);
    const sep = i === 4 || i === 7 ? 45 : i === 10 ? 84 : i === 13 || i === 16 ? 58 : i === 19 ? 46 : 0;
    if (sep ? c !== sep : !isDigit(c)) return false;
  }
  const y = num(s, 0, 4);
  const mo = num(s, 5, 2);
  const d = num(s, 8, 2);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 ? (leap ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && num(s, 11, 2) < 24 && num(s, 14, 2) < 60 && num(s, 17, 2) < 60;
};

// Shapes checked by hand first; the pattern decides whatever they do not recognise.
const fastFormats: Record<string, (s: string) => boolean> = { uuid: looksLikeUuid, datetime: looksLikeUtcMillis };

const compileString = (def: Def): Acceptor => {
  const tests: Array<(s: string) => boolean> = [];
  if (def.format !== undefined) {
    const pattern = def.pattern;
    if (pattern === undefined) return never;
    const fast = fastFormats[def.format];
    tests.push(fast ? (s) => fast(s) || pattern.test(s) : (s) => pattern.test(s));
  }
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'min_length' && typeof c.minimum === 'number') {
      const min = c.minimum;
      tests.push((s) => s.length >= min);
    } else return never;
  }
  return (v) => {
    if (typeof v !== 'string') return false;
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
    return true;
  };
};

const compileObject = (def: Def): Acceptor => {
  const shape = Object.entries(def.shape ?? {});
  const keys = shape.map(([key]) => key);
  const accepts = shape.map(([, schema]) => compileAcceptor(schema));
  const known = new Set(keys);
  // Unknown keys: loose objects keep them (same output); strict ones reject and stripping ones drop
  // them (a different output), so in both cases the fast path steps aside and zod decides.
  const loose = def.catchall !== undefined && defOf(def.catchall).type === 'unknown';
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    if (!loose) for (const key in o) if (!known.has(key)) return false;
    for (let i = 0; i < keys.length; i++) if (!accepts[i]!(o[keys[i]!])) return false;
    return true;
  };
};

/**
 * Compiles a zod schema into a fast, allocation-free acceptor. It is conservative by construction:
 * anything it does not fully understand compiles to "not sure" (false), so the caller falls back to
 * zod, which stays the one definition and the one source of error messages. A property test checks
 * that it never accepts what zod rejects.
 */
export const compileAcceptor = (schema: z.ZodType): Acceptor => {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return compileString(def);
    case 'number':
      return compileNumber(def);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'literal': {
      const values = def.values ?? [];
      return (v) => values.includes(v);
    }
    case 'unknown':
      return () => true;
    case 'optional': {
      const inner = compileAcceptor(def.innerType!);
      return (v) => v === undefined || inner(v);
    }
    case 'array': {
      const element = compileAcceptor(def.element!);
      if ((def.checks ?? []).length) return never;
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
        return true;
      };
    }
    case 'object':
      return compileObject(def);
    default:
      return never;
  }
};
