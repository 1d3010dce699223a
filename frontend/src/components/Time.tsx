import { formatTime } from '../format';

/** An RFC 3339 time, shown in local time, machine-readable in `dateTime`. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  return (
    <time dateTime={value} title={value}>
      {formatTime(value)}
    </time>
  );
}
