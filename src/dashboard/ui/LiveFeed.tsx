import { useCell } from '../cell.js';
import { recentChanges } from '../live.js';
import { openAgent } from '../story.js';

/** The newest changes as they arrive; a polite live region, so a screen reader hears them. */
export const LiveFeed = () => {
  const changes = useCell(recentChanges);
  return (
    <section class="card feed" aria-labelledby="feed-h" data-testid="feed">
      <h2 id="feed-h">Live changes</h2>
      {changes.length === 0 && <p class="empty">Waiting for events…</p>}
      <div role="log" aria-live="polite" aria-label="Events applied, newest first">
        <ol>
        {changes.map((c) => (
          <li key={c.position}>
            <span class="num">#{c.position}</span> {c.type}
            {c.changed.agents.slice(0, 3).map((id) => (
              <>
                {' '}
                <button type="button" class="link" onClick={() => openAgent(id)}>
                  {id}
                </button>
              </>
            ))}
            {c.changed.agents.length > 3 && <span class="sub"> +{c.changed.agents.length - 3}</span>}
            {c.changed.agents.length === 0 && c.changed.pools.length > 0 && <span class="sub"> {c.changed.pools.join(', ')}</span>}
          </li>
        ))}
      </ol>
      </div>
    </section>
  );
};
