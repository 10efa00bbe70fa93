/** How deep `data`/`metadata` may nest (the envelope is level 1): far beyond any real event, far below a stack or jsonb limit. */
export const MAX_EVENT_DEPTH = 64;

/** Something in a raw event that some store would refuse, with where it is. */
export interface StorableIssue {
  path: string;
  message: string;
}

const describeString = (s: string): string | null => {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it';
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) return 'contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it';
  return null;
};

const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/** The first two steps of a path (`metadata.deep`, `a[0]`): a branch 64 levels deep is named by its top. */
// Stryker disable next-line Regex: every part is optional, so the match starts at 0 without the ^ too; and a path deeper than MAX_EVENT_DEPTH (64) always has a second step
const topOf = (path: string): string => /^[^.[]*(?:\.[^.[]*|\[\d+\])?/.exec(path)![0];

/**
 * The first thing in a JSON value that a store would refuse at write time, or null: strings (keys
 * included) with NUL or lone surrogates, and nesting deeper than MAX_EVENT_DEPTH. Checked for every
 * store alike, so an append is all or nothing whichever store it goes to.
 */
export const storableIssue = (value: unknown): StorableIssue | null => {
  const visit = (v: unknown, path: string, depth: number): StorableIssue | null => {
    if (typeof v === 'string') {
      const why = describeString(v);
      return why ? { path: path || '(event)', message: why } : null;
    }
    if (typeof v !== 'object' || v === null) return null;
    if (depth > MAX_EVENT_DEPTH) {
      return { path: `${topOf(path)}…`, message: `nested deeper than ${MAX_EVENT_DEPTH} levels` };
    }
    if (Array.isArray(v)) {
      // Stryker disable next-line EqualityOperator: one more turn visits v[v.length], undefined, which has no issue
      for (let i = 0; i < v.length; i++) {
        const issue = visit(v[i], join(path, i), depth + 1);
        if (issue) return issue;
      }
      return null;
    }
    for (const key of Object.keys(v)) {
      // JSON.parse keeps "__proto__" as a plain key, but every object copy (a schema's, a
      // client's) turns it into a prototype and drops it: refused, so it is never kept on one path
      // and lost on another.
      if (key === '__proto__') return { path: join(path, key), message: 'a key named "__proto__" is refused (JavaScript readers would lose it or take it for a prototype)' };
      const keyIssue = describeString(key);
      if (keyIssue) return { path: join(path, JSON.stringify(key)), message: `a key that ${keyIssue}` };
      const issue = visit((v as Record<string, unknown>)[key], join(path, key), depth + 1);
      if (issue) return issue;
    }
    return null;
  };
  return visit(value, '', 1);
};
