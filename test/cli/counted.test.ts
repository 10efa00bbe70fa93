import { describe, expect, it } from 'vitest';
import { counted } from '../../src/cli/counted.js';

describe('counted', () => {
  it.each([
    [0, 'pool', undefined, '0 pools'],
    [1, 'pool', undefined, '1 pool'],
    [2, 'pool', undefined, '2 pools'],
    [1, 'anomaly', 'anomalies', '1 anomaly'],
    [655, 'anomaly', 'anomalies', '655 anomalies'],
    [1, 'pass', 'passes', '1 pass'],
    [3, 'pass', 'passes', '3 passes'],
  ])('%i %s → %s', (n, noun, plural, text) => {
    expect(counted(n, noun, plural)).toBe(text);
  });
});
