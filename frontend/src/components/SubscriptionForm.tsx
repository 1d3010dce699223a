/**
 * Create or edit a subscription. Validation happens here, before anything is sent, with one
 * message per field; the server's own answer (if it still refuses) is shown above the form,
 * or next to the filter or retry schedule when it names one of them.
 */
import { useId, useRef, useState, type FormEvent } from 'react';
import type { Subscription } from '../api/types';
import { ErrorMessage } from './Feedback';
import { FILTER_EXAMPLE, FILTER_OPERATORS, MAX_RETRY_STEPS, serverFieldError } from './flowFields';
import { emptyValues, validate, valuesFrom, type FormErrors, type FormValues, type HeaderRow } from './subscriptionFormModel';

export type { FormValues } from './subscriptionFormModel';

interface Props {
  initial?: Subscription;
  submitLabel: string;
  /** Resolves when saved; a rejection's words are shown above the form. */
  onSubmit: (values: FormValues) => Promise<void>;
  onCancel: () => void;
}

export function SubscriptionForm({ initial, submitLabel, onSubmit, onCancel }: Props) {
  const editing = initial !== undefined;
  const [values, setValues] = useState<FormValues>(() => (initial ? valuesFrom(initial) : emptyValues()));
  const [errors, setErrors] = useState<FormErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const uid = useId();
  const id = (name: string) => `${uid}-${name}`;

  function set<K extends keyof FormValues>(key: K, value: FormValues[K]) {
    setValues((old) => ({ ...old, [key]: value }));
  }

  function setHeader(i: number, patch: Partial<HeaderRow>) {
    set(
      'headers',
      values.headers.map((h, j) => (j === i ? { ...h, ...patch } : h)),
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found = validate(values, editing);
    setErrors(found);
    setServerError(null);
    if (Object.keys(found).length > 0) {
      // Move focus to the first field that needs attention.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    setBusy(true);
    try {
      await onSubmit(values);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const field = serverFieldError(message);
      if (field) {
        setErrors({ [field]: message });
        requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>(`[name="${field}"]`)?.focus());
      } else {
        setServerError(message);
      }
    } finally {
      setBusy(false);
    }
  }

  function fieldProps(name: Exclude<keyof FormValues, 'headers'>, hint?: boolean) {
    const err = errors[name];
    const described = [hint ? id(`${name}-hint`) : '', err ? id(`${name}-error`) : ''].filter(Boolean).join(' ');
    return {
      id: id(name),
      name,
      value: values[name],
      'aria-invalid': err ? true : undefined,
      'aria-describedby': described || undefined,
      onChange: (e: { target: { value: string } }) => set(name, e.target.value),
    };
  }

  function fieldError(name: Exclude<keyof FormValues, 'headers'>) {
    const err = errors[name];
    return err ? (
      <p className="field-error" id={id(`${name}-error`)}>
        {err}
      </p>
    ) : null;
  }

  return (
    <form ref={formRef} className="form" onSubmit={submit} noValidate aria-label={submitLabel}>
      <ErrorMessage error={serverError} />
      <div className="field">
        <label htmlFor={id('target_url')}>Target URL (required)</label>
        <input type="url" inputMode="url" autoComplete="off" placeholder="https://example.com/webhooks" {...fieldProps('target_url')} />
        {fieldError('target_url')}
      </div>
      <div className="field">
        <label htmlFor={id('event_types')}>Event types</label>
        <textarea rows={3} placeholder={'order.created\norder.*'} {...fieldProps('event_types', true)} />
        <p className="hint" id={id('event_types-hint')}>
          One pattern per line or separated by commas: an exact type, a prefix wildcard like <code>order.*</code>, or{' '}
          <code>*</code>. Empty means every event.
        </p>
        {fieldError('event_types')}
      </div>
      {!editing && (
        <div className="field">
          <label htmlFor={id('secret')}>Secret</label>
          <input type="password" autoComplete="new-password" {...fieldProps('secret', true)} />
          <p className="hint" id={id('secret-hint')}>
            Leave empty and Courier generates a <code>whsec_</code> signing secret. Either way it is shown once, after saving.
          </p>
        </div>
      )}
      <div className="field">
        <label htmlFor={id('description')}>Description</label>
        <input type="text" {...fieldProps('description')} />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={id('rate_limit_per_second')}>Rate limit (per second)</label>
          <input type="text" inputMode="numeric" {...fieldProps('rate_limit_per_second', true)} />
          <p className="hint" id={id('rate_limit_per_second-hint')}>Empty: no limit.</p>
          {fieldError('rate_limit_per_second')}
        </div>
        <div className="field">
          <label htmlFor={id('max_in_flight')}>Max in flight{editing ? ' (required)' : ''}</label>
          <input type="text" inputMode="numeric" {...fieldProps('max_in_flight', !editing)} />
          {!editing && <p className="hint" id={id('max_in_flight-hint')}>Empty: server default.</p>}
          {fieldError('max_in_flight')}
        </div>
        <div className="field">
          <label htmlFor={id('timeout_ms')}>Timeout (ms)</label>
          <input type="text" inputMode="numeric" {...fieldProps('timeout_ms', true)} />
          <p className="hint" id={id('timeout_ms-hint')}>Empty: server default (10 000 ms unless changed).</p>
          {fieldError('timeout_ms')}
        </div>
      </div>
      <div className="field">
        <label htmlFor={id('filter')}>Content filter (JSON)</label>
        <textarea rows={4} className="mono" spellCheck={false} placeholder={FILTER_EXAMPLE} {...fieldProps('filter', true)} />
        <p className="hint" id={id('filter-hint')}>
          A JSON object matched against <code>{'{"event_type", "payload", "headers"}'}</code> with{' '}
          <code>{FILTER_OPERATORS.join(' ')}</code>, e.g. <code>{FILTER_EXAMPLE}</code>. An event it does not match is recorded{' '}
          <code>filtered</code> and not sent. Empty: every event its types take.
        </p>
        {fieldError('filter')}
      </div>
      <div className="field">
        <label htmlFor={id('retry_schedule')}>Retry schedule</label>
        <input type="text" autoComplete="off" spellCheck={false} placeholder="10s, 1m, 5m" {...fieldProps('retry_schedule', true)} />
        <p className="hint" id={id('retry_schedule-hint')}>
          Delays between attempts, separated by commas: <code>50ms</code>, <code>10s</code>, <code>1m</code>, <code>2h</code>,{' '}
          <code>1d</code> (at most {MAX_RETRY_STEPS}, each at most 7d). <code>none</code>: one attempt, no retries. Empty: server
          default.
        </p>
        {fieldError('retry_schedule')}
      </div>
      <fieldset className="headers">
        <legend>Extra request headers</legend>
        {values.headers.length === 0 && <p className="hint">None. Courier adds its own signature and event headers.</p>}
        {values.headers.map((h, i) => {
          const err = errors.headers?.[i];
          const errId = id(`header-${i}-error`);
          return (
            <div className="header-row" key={i}>
              <div className="field">
                <label htmlFor={id(`header-${i}-name`)}>Header {i + 1} name</label>
                <input
                  id={id(`header-${i}-name`)}
                  value={h.name}
                  autoComplete="off"
                  aria-invalid={err ? true : undefined}
                  aria-describedby={err ? errId : undefined}
                  onChange={(e) => setHeader(i, { name: e.target.value })}
                />
              </div>
              <div className="field">
                <label htmlFor={id(`header-${i}-value`)}>Header {i + 1} value</label>
                <input id={id(`header-${i}-value`)} value={h.value} autoComplete="off" onChange={(e) => setHeader(i, { value: e.target.value })} />
              </div>
              <button
                type="button"
                className="remove"
                aria-label={`Remove header ${i + 1}`}
                onClick={() => set('headers', values.headers.filter((_, j) => j !== i))}
              >
                Remove
              </button>
              {err && (
                <p className="field-error" id={errId}>
                  {err}
                </p>
              )}
            </div>
          );
        })}
        <button type="button" onClick={() => set('headers', [...values.headers, { name: '', value: '' }])}>
          Add header
        </button>
      </fieldset>
      {Object.keys(errors).length > 0 && (
        <p className="field-error" role="alert">
          Some fields need attention before saving.
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
