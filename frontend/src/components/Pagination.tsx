/** Newer/older buttons for cursor pagination (the server only gives a forward cursor, so the dashboard keeps the trail). */
export function Pagination({
  page,
  hasPrev,
  hasNext,
  onPrev,
  onNext,
}: {
  page: number;
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
}) {
  if (!hasPrev && !hasNext) return null;
  return (
    <nav className="pagination" aria-label="Pages">
      <button type="button" onClick={onPrev} disabled={!hasPrev}>
        ← Previous
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        Next →
      </button>
    </nav>
  );
}
