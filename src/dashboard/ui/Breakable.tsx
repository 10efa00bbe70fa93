/**
 * A name that may wrap where a reader would break it: after `:` or `-`, and before each capital of
 * an event type (`Session·Lease·Renewed`), so a narrow column wraps it instead of clipping it.
 */
export const Breakable = ({ text }: { text: string }) => {
  const parts = text.split(/(?<=[:-])|(?<=[a-z])(?=[A-Z])/);
  return (
    <>
      {parts.map((part, i) => (
        <>
          {i > 0 && <wbr />}
          {part}
        </>
      ))}
    </>
  );
};
