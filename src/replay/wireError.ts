import { RollcallError, type RollcallErrorCode } from '../errors.js';

/** An error as a worker thread posts it: a RollcallError's code and the fields that name where. */
export interface WireError {
  code: RollcallErrorCode | null;
  message: string;
  line?: number | undefined;
  path?: string | undefined;
  stream?: string | undefined;
  position?: string | undefined;
}

export const toWireError = (e: unknown): WireError =>
  e instanceof RollcallError
    ? { code: e.code, message: e.message, line: e.line, path: e.path, stream: e.stream, position: e.position?.toString() }
    : { code: null, message: e instanceof Error ? e.message : String(e) };

/** The error a worker posted, as the thread that receives it throws it (a RollcallError with the same code and fields). */
export const fromWireError = (e: WireError): Error =>
  e.code === null
    ? new Error(e.message)
    : new RollcallError(e.code, e.message, {
        ...(e.line !== undefined ? { line: e.line } : {}),
        ...(e.path !== undefined ? { path: e.path } : {}),
        ...(e.stream !== undefined ? { stream: e.stream } : {}),
        ...(e.position !== undefined ? { position: BigInt(e.position) } : {}),
      });
