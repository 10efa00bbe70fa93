// key=value secrets: `?password=…`, `&sslpassword=…`, libpq's `password='…'`, `token=…`.
const KEY_VALUE = /\b((?:ssl)?pass(?:word|wd)?|pwd|secret|token)(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,]*)/gi;

// `scheme://user:password@`: the password runs to the LAST `@` of the URL, so a password with an
// unencoded `/ # ? @` is masked whole (masking a little too much is fine; a leak is not).
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)\S*@/gi;

/**
 * A store URL, connection string or message with every password replaced by `***`, safe to print.
 * The one function every URL goes through before it reaches output (success lines, errors, demo).
 */
export const maskUrl = (text: string): string => text.replace(KEY_VALUE, '$1$2***').replace(USERINFO, '$1***@');
