/**
 * A time from the log as date and time, which may wrap between the two: a narrow column shows it
 * on two lines instead of clipping it.
 */
export const Time = ({ iso }: { iso: string | null }) => {
  if (iso === null) return <>—</>;
  const [date, time] = iso.replace(/\.\d+Z$/, 'Z').split('T');
  return (
    <time dateTime={iso}>
      <span class="nowrap">{date}</span> <span class="nowrap">{time}</span>
    </time>
  );
};
