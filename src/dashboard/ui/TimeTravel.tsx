import { useEffect, useRef, useState } from 'preact/hooks';
import { useCell } from '../cell.js';
import { liveView, ready } from '../live.js';
import { travelError, travelLoading, travelPoint, travelTo, travelView } from '../travel.js';

/** A slider and inputs for an earlier position or time, and the way back to live. */
export const TimeTravel = () => {
  const point = useCell(travelPoint);
  const loading = useCell(travelLoading);
  const error = useCell(travelError);
  const shown = useCell(travelView);
  const live = useCell(liveView);
  const r = useCell(ready);
  const head = Math.max(Number(live?.position ?? 0), Number(r?.head ?? 0));
  const current = point !== null && 'until' in point ? point.until : String(head);
  const [pos, setPos] = useState(current);
  // While someone types or drags, new live positions must not overwrite the field.
  const [editing, setEditing] = useState(false);
  const [time, setTime] = useState(point !== null && 'asOf' in point ? point.asOf : '');
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (!editing) setPos(current);
  }, [current, editing]);

  const goPosition = (value: string) => {
    setEditing(false);
    if (/^\d+$/.test(value)) void travelTo({ until: value });
  };
  const onSlide = (value: string) => {
    setEditing(true);
    setPos(value);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => goPosition(value), 200);
  };
  const goTime = () => {
    const ms = Date.parse(time.trim());
    if (Number.isFinite(ms)) void travelTo({ asOf: new Date(ms).toISOString() });
  };

  return (
    <section class={`travel ${point === null ? '' : 'active'}`} aria-labelledby="travel-h" data-testid="travel">
      <h2 id="travel-h" class="sr-only">
        Time travel
      </h2>
      <form
        class="travel-pos"
        onSubmit={(e) => {
          e.preventDefault();
          goPosition(pos);
        }}
      >
        <label for="travel-slider">As of position</label>
        <input
          id="travel-slider"
          type="range"
          min={0}
          max={head}
          step={1}
          value={pos}
          onInput={(e) => onSlide(e.currentTarget.value)}
          aria-valuetext={`position ${pos} of ${head}`}
        />
        <label for="travel-position" class="sr-only">
          Position
        </label>
        <input id="travel-position" type="number" min={0} max={head} step={1} value={pos} onInput={(e) => {
            setEditing(true);
            setPos(e.currentTarget.value);
          }}
          inputMode="numeric"
        />
        <button type="submit">Show</button>
      </form>
      <form
        class="travel-time"
        onSubmit={(e) => {
          e.preventDefault();
          goTime();
        }}
      >
        <label for="travel-time">As of time</label>
        <input id="travel-time" type="text" placeholder="2026-11-20T10:00:00Z" value={time} onInput={(e) => setTime(e.currentTarget.value)} spellcheck={false} />
        <button type="submit">Show</button>
      </form>
      <button type="button" class="primary" onClick={() => {
          setEditing(false);
          void travelTo(null);
        }} disabled={point === null} data-testid="back-to-live">
        Back to live
      </button>
      <p class="travel-note" role="status" data-testid="travel-note">
        {point === null
          ? 'Live: the page follows the store as events arrive.'
          : loading
            ? 'Loading…'
            : error !== null
              ? `Could not load that moment: ${error}`
              : `Viewing the fleet as of ${'until' in point ? `position ${point.until}` : `time ${point.asOf}`} (shown: position ${shown?.position ?? 'none'}; live is at ${head}).`}
      </p>
    </section>
  );
};
