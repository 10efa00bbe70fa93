import type { LifecycleEventBody, LifecycleEventType } from '../events/lifecycleEvents.js';

/** Producer metadata as SPEC §1.1 shows it; `source` names the service that saw the fact. */
export interface GeneratedMetadata {
  at: string;
  correlationId?: string;
  causationId?: string;
  source: string;
}

/** One event exactly as a producer writes it (SPEC §1.1). */
export type GeneratedEvent = LifecycleEventBody & { id: string; metadata: GeneratedMetadata };

export type DataOf<T extends LifecycleEventType> = Extract<LifecycleEventBody, { type: T }>['data'];
