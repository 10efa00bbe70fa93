/**
 * How many runs a property gets: `n`, capped by ROLLCALL_PROPERTY_RUNS when it is set. `npm run
 * mutate` sets it low, because Stryker reruns every test that covers a mutant for each of
 * thousands of mutants; the normal suite runs every property in full.
 */
export const runs = (n: number): number => Math.min(n, Number(process.env['ROLLCALL_PROPERTY_RUNS'] ?? Infinity));
