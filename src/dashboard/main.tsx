import { render } from 'preact';
import { startLive } from './live.js';
import { openPool } from './pool.js';
import { openAgent } from './story.js';
import { readHash, travelTo } from './travel.js';
import { App } from './ui/App.js';
import './styles.css';

const start = readHash();
render(<App />, document.getElementById('app')!);
void startLive();
if (start.point !== null) void travelTo(start.point);
if (start.pool !== null) openPool(start.pool);
if (start.agent !== null) openAgent(start.agent);
