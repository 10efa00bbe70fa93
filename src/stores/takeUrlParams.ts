/**
 * Takes rollcall's own query parameters out of a store URL: `take(key, rawValue)` sees each
 * `key=value` (the value still percent-encoded) and returns true for one of ours. Returns the URL
 * with the others, as written, for the client library (an empty `&&` part is dropped).
 */
export const takeUrlParams = (url: string, take: (key: string, rawValue: string) => boolean): string => {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const kept: string[] = [];
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    if (!take(eq < 0 ? part : part.slice(0, eq), eq < 0 ? '' : part.slice(eq + 1)) && part) kept.push(part);
  }
  return kept.length ? `${url.slice(0, q)}?${kept.join('&')}` : url.slice(0, q);
};
