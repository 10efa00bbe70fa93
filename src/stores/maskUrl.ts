/** A store URL with any password replaced by `***`, safe to print in messages and logs. */
export const maskUrl = (url: string): string => url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, '$1***@');
