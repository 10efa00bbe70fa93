import { RollcallError } from '../errors.js';

// key=value secrets: `?password=…`, `&sslpassword=…`, libpq's `password='…'`, `token=…`.
// An unquoted value stops at an unescaped `"`, so the closing quote of a JSON log line survives.
const KEY_VALUE = /\b((?:ssl)?pass(?:word|wd)?|pwd|secret|token)(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?:\\.|[^\s&;,"\\])*)/gi;

// `scheme://user:password@` in free text (a driver's message): the user runs to the first `:`
// (it may hold an `@`, as Azure's `user@server` does), the password to the LAST `@` before a
// blank, so an unencoded `/ # ? @` in it is masked whole (masking a little too much is fine; a
// leak is not). Blanks inside a store URL never get this far: `checkStoreUrl` refuses them.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#]*:)\S*@/gi;

/**
 * Free text (an error message, a log line) with every password replaced by `***`, safe to print.
 * Every line rollcall prints goes through it; a store URL itself goes through `maskStoreUrl`.
 */
export const maskUrl = (text: string): string => text.replace(KEY_VALUE, '$1$2***').replace(USERINFO, '$1***@');

// A store URL's query secrets: in a URL a value runs to the next `&` or `#`, blanks included.
const QUERY_SECRET = /([?&](?:ssl)?pass(?:word|wd)?|[?&]pwd|[?&]secret|[?&]token)=[^&#]*/gi;

/** Control characters shown as escapes, so a masked URL stays on one line. */
const oneLine = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * The parts of `scheme://userinfo@host…` as WHATWG's URL parser (which node-postgres uses) and
 * the EventStoreDB client split them: the authority ends at the first `/ ? #`, and the user
 * information runs to its last `@`. Null for text that is not `scheme://…`.
 */
const splitAuthority = (url: string): { scheme: string; userinfo: string | null; rest: string; afterAuthority: string } | null => {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(url);
  if (!m) return null;
  const body = url.slice(m[1]!.length);
  const end = body.search(/[/?#]/);
  const authority = end < 0 ? body : body.slice(0, end);
  const at = authority.lastIndexOf('@');
  return {
    scheme: m[1]!,
    userinfo: at < 0 ? null : authority.slice(0, at),
    rest: at < 0 ? body : body.slice(at + 1),
    afterAuthority: end < 0 ? '' : body.slice(end),
  };
};

/**
 * One store URL as written, safe to print: the password (everything after the first `:` of the
 * user information) is `***`, and so are `password=`-like query values. A URL whose user
 * information cannot be told apart (see `checkStoreUrl`) has all of it masked: everything from
 * `://` to its last `@`.
 */
export const maskStoreUrl = (url: string): string => {
  // A file path holds no secret, and may hold spaces and `@`.
  if (/^(?:sqlite|memory):/i.test(url)) return oneLine(url);
  const parts = splitAuthority(url);
  if (parts === null) return oneLine(maskUrl(url));
  let masked: string;
  if (ambiguity(url) !== null) {
    const at = url.lastIndexOf('@');
    masked = at < 0 ? url : `${parts.scheme}***${url.slice(at)}`;
  } else if (parts.userinfo === null) masked = url;
  else {
    const colon = parts.userinfo.indexOf(':');
    masked = `${parts.scheme}${colon < 0 ? parts.userinfo : `${parts.userinfo.slice(0, colon)}:***`}@${parts.rest}`;
  }
  return oneLine(masked.replace(QUERY_SECRET, '$1=***'));
};

/** Why a store URL cannot be split into user, password and host one way only, or null. */
const ambiguity = (url: string): string | null => {
  if (/[\s\u0000-\u001f\u007f]/.test(url)) return 'a space, tab, newline or control character (percent-encode it: %20, %09, %0A)';
  const parts = splitAuthority(url);
  if (parts === null) return null;
  // An `@` after the authority means a `/ # ?` in the user information ended it early: the rest of
  // a password would be taken for the host, path or query (and printed by a driver as such).
  if (parts.afterAuthority.includes('@')) return 'an unencoded "@" after the host, or a "/ # ?" in the user name or password (percent-encode them: %40 %2F %23 %3F)';
  return null;
};

/**
 * Refuses a store URL whose user name, password and host cannot be told apart one way only (exit 2,
 * the URL masked), before any driver sees it: a driver would resolve part of the password as a
 * host name, and its error would print the rest.
 */
export const checkStoreUrl = (url: string): void => {
  const why = ambiguity(url);
  if (why !== null) throw new RollcallError('usage', `store URL "${maskStoreUrl(url)}" contains ${why}`);
};
