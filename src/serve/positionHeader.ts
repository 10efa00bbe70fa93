/** The header that says which position of the log a response reflects (SPEC §6). */
export const POSITION_HEADER = 'rollcall-position';

/** The header's value: the decimal position, or 0 before any event (no event has position 0). */
export const positionHeader = (position: string | bigint | null): string => (position === null ? '0' : position.toString());
