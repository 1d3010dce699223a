import { describe, expect, it } from 'vitest';
import { formatPercent, idFragment, shortId } from './format';

describe('ids on screen', () => {
  const a = '0193ab6e-7d1c-7b3e-9f00-3f9a1c2b7d4e';
  const b = '0193ab6e-7d1c-7b3e-9f00-0000000000b1';

  it('shows the random tail, so ids made in the same millisecond still differ', () => {
    expect(shortId(a)).toBe('…3f9a1c2b7d4e');
    expect(shortId(a)).not.toBe(shortId(b));
  });

  it('accepts an id as shown, as typed with dashes, or its start', () => {
    expect(idFragment('…3f9a1c2b7d4e')).toBe('3f9a1c2b7d4e');
    expect(idFragment(' 0193AB6E-7D1C ')).toBe('0193ab6e7d1c');
    expect(idFragment(a)).toBe(a.replace(/-/g, ''));
    expect(idFragment('abc')).toBeNull();
    expect(idFragment('not-hex!')).toBeNull();
  });
});

describe('percentages', () => {
  it('show a dash when there is nothing to divide', () => {
    expect(formatPercent(null)).toBe('—');
    expect(formatPercent(undefined)).toBe('—');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(2 / 3)).toBe('66.7%');
    expect(formatPercent(0)).toBe('0%');
  });
});
