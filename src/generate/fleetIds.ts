import type { Random } from './random.js';

const AGENT_ID_SPACE = 36 ** 4;

/** Every id the fleet hands out: agent suffixes, pool ids, pids, connection ids, ghosts. */
export interface FleetIds {
  /** The n-th agent's short id: 4 characters for the first 36⁴ agents, longer beyond. */
  agentSuffix(n: number): string;
  /** Five characters: never the id of a real agent or pool. */
  ghostSuffix(): string;
  /** A serial for the sessions of strays. */
  ghostSerial(): string;
  poolId(): string;
  nextPid(): number;
  newConnection(): string;
}

export const createFleetIds = (rng: Random): FleetIds => {
  const idOffset = rng.int(0, AGENT_ID_SPACE - 1);
  let connectionCounter = 0;
  let ghostCounter = 0;
  let pidCounter = rng.int(1_000, 30_000);
  return {
    // A bijection on the 4-character space keeps ids short and unique.
    agentSuffix: (n) =>
      n < AGENT_ID_SPACE ? ((n * 823_543 + idOffset) % AGENT_ID_SPACE).toString(36).padStart(4, '0') : n.toString(36).padStart(6, '0'),
    ghostSuffix: () => (36 ** 4 + rng.int(0, 36 ** 5 - 36 ** 4 - 1)).toString(36),
    ghostSerial: () => (ghostCounter++).toString(36),
    poolId: () => `pl-${rng.int(0, AGENT_ID_SPACE - 1).toString(36).padStart(4, '0')}`,
    nextPid() {
      pidCounter += rng.int(1, 64);
      if (pidCounter > 4_194_304) pidCounter = rng.int(300, 2_000);
      return pidCounter;
    },
    newConnection: () => `conn-${(connectionCounter++).toString(36)}`,
  };
};
