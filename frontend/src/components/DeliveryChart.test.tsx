import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { MinuteStats } from '../api/types';
import { formatRate, niceMax, summarize } from './chartMath';
import { DeliveryChart } from './DeliveryChart';

function minutes(counts: [number, number][]): MinuteStats[] {
  const start = Date.parse('2026-03-01T10:00:00Z');
  return counts.map(([succeeded, failed], i) => ({ minute: new Date(start + i * 60_000).toISOString(), succeeded, failed }));
}

describe('DeliveryChart', () => {
  it('draws one bar group per minute, with succeeded and failed parts and hover titles', () => {
    const { container } = render(<DeliveryChart data={minutes([[3, 1], [0, 0], [4, 0]])} />);
    expect(screen.getAllByTestId('chart-bar')).toHaveLength(3);
    expect(container.querySelectorAll('rect.bar-ok')).toHaveLength(2);
    expect(container.querySelectorAll('rect.bar-fail')).toHaveLength(1);
    expect(container.querySelectorAll('title')[0].textContent).toMatch(/3 succeeded, 1 failed/);
  });

  it('scales bar heights to the busiest minute', () => {
    const { container } = render(<DeliveryChart data={minutes([[10, 0], [5, 0]])} />);
    const [a, b] = Array.from(container.querySelectorAll('rect.bar-ok')).map((r) => Number(r.getAttribute('height')));
    expect(a).toBeCloseTo(b * 2, 5);
  });

  it('breaks the success-rate line over minutes without deliveries', () => {
    render(<DeliveryChart data={minutes([[1, 1], [1, 0], [0, 0], [2, 0]])} />);
    expect(screen.getAllByTestId('rate-line')).toHaveLength(2);
  });

  it('summarises the hour for screen readers', () => {
    render(<DeliveryChart data={minutes([[3, 1]])} />);
    expect(screen.getByRole('img')).toHaveAccessibleName(
      'Deliveries per minute over the last hour: 4 attempts finished, 3 succeeded, 1 failed, success rate 75%.',
    );
  });

  it('shows an empty state when nothing was delivered', () => {
    render(<DeliveryChart data={minutes([[0, 0], [0, 0]])} />);
    expect(screen.getByText('No deliveries in the last hour.')).toBeInTheDocument();
    expect(screen.queryAllByTestId('chart-bar')).toHaveLength(0);
  });
});

describe('chart arithmetic', () => {
  it('rounds the axis maximum up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 7, 12, 230].map(niceMax)).toEqual([1, 1, 5, 10, 20, 500]);
  });

  it('computes the success rate over the hour', () => {
    expect(summarize(minutes([[1, 1], [2, 0]]))).toEqual({ total: 4, succeeded: 3, failed: 1, successRate: 0.75 });
    expect(formatRate(null)).toBe('—');
    expect(formatRate(1)).toBe('100%');
    expect(formatRate(2 / 3)).toBe('66.7%');
  });
});
