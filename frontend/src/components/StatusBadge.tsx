const TONE: Record<string, string> = {
  active: 'good',
  succeeded: 'good',
  paused: 'warn',
  pending: 'info',
  delivering: 'info',
  retrying: 'warn',
  disabled: 'bad',
  failed: 'bad',
  filtered: 'muted',
};

const TITLE: Record<string, string> = {
  filtered: "Not sent: the subscription's event types or content filter did not take the event",
};

/** A status word with a colour; the word itself carries the meaning, the colour only helps. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${TONE[status] ?? 'muted'}`} title={TITLE[status]}>
      {status}
    </span>
  );
}
