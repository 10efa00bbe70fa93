/** Every failure rollcall reports on purpose is a RollcallError with a machine-readable code. */
export type RollcallErrorCode =
  | 'invalid-event'
  | 'unknown-event-type'
  | 'invalid-json'
  | 'clock-skew'
  | 'wrong-expected-revision'
  | 'store-unavailable'
  | 'corrupt-store'
  | 'corrupt-snapshot'
  | 'usage'
  | 'io'
  | 'interrupted'
  | 'output-failed'
  | 'timeout';

export interface RollcallErrorFields {
  line?: number;
  /** 0-based index of the event in the caller's input (a JSON array or NDJSON body). */
  index?: number;
  path?: string;
  stream?: string;
  position?: bigint;
  expected?: string;
  actual?: string;
  cause?: unknown;
}

/** The one error class: `code` says what failed, the fields say where. */
export class RollcallError extends Error {
  readonly code: RollcallErrorCode;
  readonly line: number | undefined;
  readonly index: number | undefined;
  readonly path: string | undefined;
  readonly stream: string | undefined;
  readonly position: bigint | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(code: RollcallErrorCode, message: string, fields: RollcallErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'RollcallError';
    this.code = code;
    this.line = fields.line;
    this.index = fields.index;
    this.path = fields.path;
    this.stream = fields.stream;
    this.position = fields.position;
    this.expected = fields.expected;
    this.actual = fields.actual;
  }
}

export const isRollcallError = (e: unknown): e is RollcallError => e instanceof RollcallError;
