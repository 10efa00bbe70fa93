import { readFileSync } from 'node:fs';

/** The package's version, read from its package.json (one directory above both src/ and dist/). */
export const packageVersion = (): string => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
};
