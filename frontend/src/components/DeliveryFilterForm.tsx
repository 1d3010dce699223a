/**
 * The delivery explorer's filters: status, event type (exact, `order.*`, `*`), HTTP status
 * (code or class), subscription, id (whole or a piece) and a time range. It edits a draft and
 * hands the whole set over on "Apply", so the URL changes once per search.
 */
import { useState, type FormEvent } from 'react';
import type { DeliveryFilters } from '../api/types';
import { checkFilters, STATUS_CHOICES, type FieldErrors } from '../deliveryFilters';
import { useSubscriptionsHealth } from '../api/queries';
import type { RangeValue } from '../timeRange';
import { TimeRangePicker } from './TimeRangePicker';

interface Props {
  initial: DeliveryFilters;
  range: RangeValue;
  onApply: (f: DeliveryFilters, range: RangeValue) => void;
  /** Offer the subscription field (the global explorer) or not (a subscription's own page). */
  withSubscription?: boolean;
}

export function DeliveryFilterForm({ initial, range, onApply, withSubscription = true }: Props) {
  const [draft, setDraft] = useState<DeliveryFilters>(initial);
  const [draftRange, setDraftRange] = useState<RangeValue>(range);
  const [errors, setErrors] = useState<FieldErrors>({});
  const set = (k: keyof DeliveryFilters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const cleaned = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, v?.trim() || undefined])) as DeliveryFilters;
    const found = checkFilters(cleaned);
    setErrors(found);
    if (Object.keys(found).length === 0) onApply(cleaned, draftRange);
  }

  const field = (k: keyof FieldErrors, label: string, placeholder: string) => (
    <div className="field">
      <label htmlFor={`f-${k}`}>{label}</label>
      <input
        id={`f-${k}`}
        value={draft[k] ?? ''}
        onChange={set(k)}
        placeholder={placeholder}
        aria-invalid={!!errors[k]}
        aria-describedby={errors[k] ? `f-${k}-error` : undefined}
        list={k === 'subscription_id' ? 'f-subscriptions' : undefined}
        spellCheck={false}
      />
      {errors[k] && <span id={`f-${k}-error`} className="field-error">{errors[k]}</span>}
    </div>
  );

  return (
    <form className="filters" onSubmit={submit} aria-label="Filter deliveries">
      <div className="field">
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={draft.status ?? ''} onChange={set('status')}>
          {STATUS_CHOICES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      {field('event_type', 'Event type', 'order.* or order.created')}
      {field('http_status', 'HTTP status', '503 or 5xx')}
      {withSubscription && (
        <>
          {field('subscription_id', 'Subscription id', 'whole id, or pick a target URL')}
          <SubscriptionChoices />
        </>
      )}
      {field('id', 'Delivery id', 'whole id or a piece')}
      <TimeRangePicker value={draftRange} onChange={setDraftRange} allowAll immediate id="f-range" />
      <div className="filter-buttons">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            setErrors({});
            onApply({}, {});
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}

const DAY = { preset: '24h' } as const;

/** Suggestions for the subscription field: every subscription's id, labelled by its target. */
function SubscriptionChoices() {
  const health = useSubscriptionsHealth(DAY);
  return (
    <datalist id="f-subscriptions">
      {(health.data?.subscriptions ?? []).map((s) => (
        <option key={s.subscription_id} value={s.subscription_id} label={s.target_url} />
      ))}
    </datalist>
  );
}
