import { useCell } from '../cell.js';
import { connection, liveView, loadError, ready } from '../live.js';

/** Connection, the projection's position against the store's head, and the lag between them. */
export const StatusBar = () => {
  const conn = useCell(connection);
  const r = useCell(ready);
  const view = useCell(liveView);
  const error = useCell(loadError);
  const position = view?.position ?? r?.position ?? null;
  const head = r?.head ?? null;
  const lag = position !== null && head !== null ? BigInt(head) - BigInt(position) : null;
  const status = r === null ? 'server unreachable' : r.status;
  return (
    <div class="status" role="status" data-testid="status">
      <span class={`dot ${conn}`} aria-hidden="true" />
      <span data-field="connection">{conn === 'live' ? 'live' : conn === 'connecting' ? 'connecting…' : 'reconnecting…'}</span>
      <span>
        position <b data-field="position">{position ?? '—'}</b>
      </span>
      <span>
        head <b data-field="head">{head ?? '—'}</b>
      </span>
      <span class={lag !== null && lag > 0n ? 'warn' : ''}>
        lag <b data-field="lag">{lag === null ? '—' : lag < 0n ? '0' : lag.toString()}</b>
      </span>
      <span class={status === 'ready' ? '' : 'warn'} data-field="ready">
        {status}
      </span>
      {error !== null && conn !== 'live' && <span class="warn">({error})</span>}
    </div>
  );
};
