/** A seeded source of randomness: integer-only arithmetic, so every machine draws the same values. */
export interface Random {
  /** A uniform 32-bit unsigned integer. */
  uint32(): number;
  /** A uniform float in [0, 1). */
  float(): number;
  /** A uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A UUID-v4-shaped string (version nibble 4, variant 8–b) drawn from this source. */
  uuid(): string;
}

// One lookup per 16 bits: uuids are drawn for every event, so formatting them must be cheap.
const HEX4: readonly string[] = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, '0'));
const hex4 = (w: number): string => HEX4[w] as string;

// cyrb128: spreads any seed string over 128 bits of sfc32 state.
const hashSeed = (seed: string): [number, number, number, number] => {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < seed.length; i++) {
    const k = seed.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
};

/** sfc32 seeded from a hash of `String(seed)`, so `42` and `'42'` give the same stream. */
export const createRandom = (seed: number | string): Random => {
  let [a, b, c, d] = hashSeed(String(seed));
  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) uint32();
  const float = (): number => uint32() / 4294967296;
  return {
    uint32,
    float,
    int: (min, max) => min + Math.floor(float() * (max - min + 1)),
    chance: (p) => p > 0 && float() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(float() * items.length)] as T,
    uuid: () => {
      const w1 = uint32();
      const w2 = ((uint32() & 0xffff0fff) | 0x00004000) >>> 0;
      const w3 = ((uint32() & 0x3fffffff) | 0x80000000) >>> 0;
      const w4 = uint32();
      return (
        hex4(w1 >>> 16) + hex4(w1 & 0xffff) + '-' + hex4(w2 >>> 16) + '-' + hex4(w2 & 0xffff) + '-' +
        hex4(w3 >>> 16) + '-' + hex4(w3 & 0xffff) + hex4(w4 >>> 16) + hex4(w4 & 0xffff)
      );
    },
  };
};
