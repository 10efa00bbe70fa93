import { useCell } from '../cell.js';
import { liveView, loadError } from '../live.js';
import { travelPoint, travelView } from '../travel.js';
import { AgentStory, FindAgent } from './AgentStory.js';
import { Agents } from './Agents.js';
import { Anomalies } from './Anomalies.js';
import { LiveFeed } from './LiveFeed.js';
import { Liveness } from './Liveness.js';
import { PoolPanel } from './PoolPanel.js';
import { Pools } from './Pools.js';
import { StatusBar } from './StatusBar.js';
import { StuckSessions } from './StuckSessions.js';
import { Summary } from './Summary.js';
import { TimeTravel } from './TimeTravel.js';

export const App = () => {
  const live = useCell(liveView);
  const point = useCell(travelPoint);
  const travelled = useCell(travelView);
  const error = useCell(loadError);
  const view = point === null ? live : travelled;
  // Ages in a past view run to that moment: the asked-for time, or the newest time the view shows.
  const at = point === null ? null : 'asOf' in point ? Date.parse(point.asOf) : (view?.newestAtMs ?? null);
  return (
    <>
      <a class="skip" href="#agents">
        Skip to agents
      </a>
      <header class="top">
        <h1>
          rollcall <span class="sub">fleet</span>
        </h1>
        <StatusBar />
        <FindAgent />
      </header>
      <TimeTravel />
      <main id="main" class={point === null ? 'live' : 'past'} data-position={view?.position ?? ''} data-mode={point === null ? 'live' : 'travel'}>
        {view === null ? (
          <p class="empty" role="status">
            {error !== null && point === null ? `Waiting for the server: ${error}` : 'Loading…'}
          </p>
        ) : (
          <>
            <Summary
              running={view.running}
              busy={view.busy}
              agents={view.agentIds.length}
              anomalies={view.anomalies.count}
              pools={view.pools}
              poolsVersion={view.versions.pools}
              position={view.position}
              live={point === null}
            />
            <div class="cols">
              <div class="col-main">
                <Pools pools={view.pools} ids={view.poolIds} version={view.versions.pools} />
                <Agents agents={view.agents} sessions={view.sessions} ids={view.agentIds} poolIds={view.poolIds} version={view.versions.agents} />
              </div>
              <div class="col-side">
                <Liveness hosts={view.hosts} agents={view.agents} sessions={view.sessions} version={view.versions.agents} />
                <StuckSessions sessions={view.sessions} pendingIds={view.pendingSessionIds} version={view.versions.sessions} at={at} />
                <Anomalies anomalies={view.anomalies} />
                {point === null && <LiveFeed />}
              </div>
            </div>
          </>
        )}
      </main>
      <PoolPanel />
      <AgentStory />
    </>
  );
};
