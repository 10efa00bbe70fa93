import { describe, expect, it } from 'vitest';
import { maskUrl } from '../../src/stores/maskUrl.js';

describe('maskUrl', () => {
  it.each([
    ['postgres user:pw@host', 'postgres://user:secret@db:5432/app', 'postgres://user:***@db:5432/app'],
    ['postgresql, encoded @ in the password', 'postgresql://u:p%40ss@h/d?sslmode=require', 'postgresql://u:***@h/d?sslmode=require'],
    ['unencoded @ in the password', 'postgres://u:p@ss@h/d', 'postgres://u:***@h/d'],
    ['unencoded / in the password', 'postgres://u:pa/ss@h/d', 'postgres://u:***@h/d'],
    ['unencoded # in the password', 'postgres://u:pa#ss@h:5432/d', 'postgres://u:***@h:5432/d'],
    ['unencoded ? in the password', 'postgres://u:pa?ss@h/d', 'postgres://u:***@h/d'],
    ['?password= in the query', 'postgres://u@h/d?password=secret&sslmode=require', 'postgres://u@h/d?password=***&sslmode=require'],
    ['&password= in the query', 'postgres://h/d?user=u&password=secret', 'postgres://h/d?user=u&password=***'],
    ['?sslpassword=', 'postgres://h/d?sslpassword=secret', 'postgres://h/d?sslpassword=***'],
    ['esdb user:pw@', 'esdb://admin:changeit@localhost:2113?tls=false', 'esdb://admin:***@localhost:2113?tls=false'],
    ['esdb with an empty user', 'esdb://:secret@localhost:2113?tls=false', 'esdb://:***@localhost:2113?tls=false'],
    ['esdb+discover, several hosts', 'esdb+discover://admin:secret@h1:2113,h2:2113', 'esdb+discover://admin:***@h1:2113,h2:2113'],
    ['key=value connection string', 'host=db user=u password=secret dbname=app', 'host=db user=u password=*** dbname=app'],
    ['key=value, quoted', "host=db password='se cret' dbname=app", 'host=db password=*** dbname=app'],
    ['a URL inside a message', 'cannot open store postgres://u:secret@h/d: connect ECONNREFUSED', 'cannot open store postgres://u:***@h/d: connect ECONNREFUSED'],
    ['no password', 'postgres://user@db/app', 'postgres://user@db/app'],
    ['a host and port, no user', 'postgres://db:5432/app', 'postgres://db:5432/app'],
    ['sqlite with : and @ in the path', 'sqlite:./a:b@c.db', 'sqlite:./a:b@c.db'],
    ['sqlite absolute with : and @', 'sqlite:///tmp/a:b@c.db', 'sqlite:///tmp/a:b@c.db'],
    ['memory', 'memory:', 'memory:'],
  ])('%s', (_name, url, masked) => {
    expect(maskUrl(url)).toBe(masked);
    for (const secret of ['secret', 'changeit', 'p@ss', 'pa/ss', 'pa#ss', 'pa?ss', 'se cret']) {
      if (url.includes(secret)) expect(maskUrl(url)).not.toContain(secret);
    }
  });
});
