/**
 * Bulk retry and cancel of the deliveries a filter matches (`POST /deliveries/retry` and
 * `/cancel`, at most 10,000 a call). The server refuses a filter with neither a subscription
 * nor a start time, so the buttons say what is missing instead of offering it.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { describeError } from '../api/client';
import type { BulkCancelled, BulkRetried, DeliveryFilters } from '../api/types';
import { bulkBody, type BulkAction } from '../deliveryFilters';
import { useApi } from '../authContext';
import { formatCount } from '../format';
import { describeRange, resolveRange, type RangeValue } from '../timeRange';
import { Notice } from './Feedback';
import { ConfirmDialog } from './Modal';

type Action = BulkAction;

function summary(filters: DeliveryFilters, range: RangeValue, action: Action): string {
  const parts = [
    `status ${filters.status || (action === 'retry' ? 'failed' : 'pending, retrying or held')}`,
    filters.event_type && `event type ${filters.event_type}`,
    filters.http_status && `HTTP status ${filters.http_status}`,
    filters.subscription_id && 'this subscription',
    describeRange(range),
  ].filter(Boolean);
  return parts.join(', ');
}

export function BulkActions({ filters, range }: { filters: DeliveryFilters; range: RangeValue }) {
  const client = useApi();
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState<Action | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const bounded = !!filters.subscription_id || !!resolveRange(range).since;
  const run = useMutation({
    mutationFn: (action: Action): Promise<BulkRetried | BulkCancelled> =>
      action === 'retry' ? client.bulkRetry(bulkBody(filters, range, action)) : client.bulkCancel(bulkBody(filters, range, action)),
    onSuccess: (r, action) => {
      const done = 'requeued' in r ? r.requeued : r.cancelled;
      const verb = action === 'retry' ? 're-queued' : 'cancelled';
      setResult(
        `${formatCount(done)} of ${formatCount(r.matched)} matching deliveries ${verb}.` +
          (r.truncated ? ` More than ${formatCount(r.cap)} matched: run it again for the rest.` : ''),
      );
      setConfirm(null);
      void qc.invalidateQueries({ queryKey: ['deliveries'] });
      void qc.invalidateQueries({ queryKey: ['subscription-stats'] });
    },
  });

  return (
    <div className="bulk" role="group" aria-label="Bulk actions">
      <button type="button" disabled={!bounded} onClick={() => { run.reset(); setConfirm('retry'); }}>
        Retry matching…
      </button>
      <button type="button" className="danger" disabled={!bounded} onClick={() => { run.reset(); setConfirm('cancel'); }}>
        Cancel pending…
      </button>
      {!bounded && <span className="hint">Choose a subscription or a time range to act on many deliveries at once.</span>}
      {result && <Notice onDismiss={() => setResult(null)}>{result}</Notice>}
      {confirm && (
        <ConfirmDialog
          title={confirm === 'retry' ? 'Retry the matching deliveries?' : 'Cancel the matching pending deliveries?'}
          confirmLabel={confirm === 'retry' ? 'Retry them' : 'Cancel them'}
          danger={confirm === 'cancel'}
          busy={run.isPending}
          error={run.error ? describeError(run.error) : null}
          onCancel={() => setConfirm(null)}
          onConfirm={() => run.mutate(confirm)}
        >
          <p>
            Deliveries matching <strong>{summary(filters, range, confirm)}</strong>{' '}
            {confirm === 'retry'
              ? 'are sent again now, each with a fresh retry budget. Filtered and in-flight deliveries are left alone.'
              : 'stop: each becomes failed with “cancelled by operator”. An attempt already in flight still finishes.'}
          </p>
          <p className="hint">At most 10,000 deliveries per run, oldest first.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
