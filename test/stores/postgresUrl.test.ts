import { describe, expect, it } from 'vitest';
import { splitPostgresUrl } from '../../src/stores/postgres/url.js';

describe('PostgreSQL URL parameters', () => {
  it('takes max, schema, statement_timeout and options out; passes TLS and the rest to node-postgres', () => {
    expect(
      splitPostgresUrl(
        'postgres://u:p@db:5432/app?max=16&sslmode=verify-full&sslrootcert=/etc/ca.pem&schema=fleet_a&statement_timeout=5000&application_name=rc&options=-c%20lock_timeout%3D1000',
      ),
    ).toEqual({
      connectionString: 'postgres://u:p@db:5432/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=rc',
      params: { poolSize: 16, schema: 'fleet_a', statementTimeoutMs: 5000, options: '-c lock_timeout=1000' },
    });
    expect(splitPostgresUrl('postgres://db/app')).toEqual({ connectionString: 'postgres://db/app', params: {} });
    expect(splitPostgresUrl('postgres://db/app?sslmode=require')).toEqual({
      connectionString: 'postgres://db/app?sslmode=require',
      params: {},
    });
  });

  it.each([
    ['max=0', /max must be an integer ≥ 1, got "0"/],
    ['max=lots', /max must be an integer ≥ 1, got "lots"/],
    ['statement_timeout=1.5', /statement_timeout must be an integer ≥ 0, got "1.5"/],
    ['schema=Fleet', /schema must be a lower-case SQL identifier/],
    ['schema=a;drop%20table%20x', /schema must be a lower-case SQL identifier/],
    ['schema=', /schema must be a lower-case SQL identifier/],
  ])('refuses %s as a usage error, with the password masked', (query, message) => {
    let error: unknown;
    try {
      splitPostgresUrl(`postgres://u:hunter2@db/app?${query}`);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'usage', message: expect.stringMatching(message) });
    expect((error as Error).message).toContain('postgres://u:***@db/app');
    expect((error as Error).message).not.toContain('hunter2');
  });
});
