import type { QuarantineJson, SuspectJson } from '../../projections/viewJson.js';
import { formatTime } from './format.js';

/** Suspect (SPEC §7.3) and quarantined (§7.4), in words, with since when and why on hover. */
export const LivenessBadges = ({ suspect, quarantine }: { suspect: SuspectJson | null; quarantine: QuarantineJson | null }) => {
  const flags: Array<[string, 'warn' | 'bad', { since: string; reason: string } | null]> = [
    ['suspect', 'warn', suspect],
    ['quarantined', 'bad', quarantine],
  ];
  return (
    <>
      {flags.map(([name, tone, flag]) =>
        flag === null ? null : (
          <>
            {' '}
            <span class={`badge ${tone}`} data-badge={name} title={`${name} since ${formatTime(flag.since)}: ${flag.reason}`}>
              {name}
            </span>
          </>
        ),
      )}
    </>
  );
};
