/**
 * "Skip" on a delivery page: for an unfinished delivery (pending, retrying or held) with an
 * ordering key, which holds back every later delivery with that key until it finishes.
 * Skipping marks it failed ("skipped by operator") and releases the key; it asks first, and a
 * 409 (it finished meanwhile) is shown in the server's words.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { describeError } from '../api/client';
import { keys } from '../api/queries';
import type { Delivery } from '../api/types';
import { useApi } from '../authContext';
import { ErrorMessage } from './Feedback';
import { canSkip } from './flowFields';
import { ConfirmDialog } from './Modal';

export function SkipDelivery({ delivery, onSkipped }: { delivery: Delivery; onSkipped: (d: Delivery) => void }) {
  const client = useApi();
  const qc = useQueryClient();
  const hintId = useId();
  const [asking, setAsking] = useState(false);
  const skip = useMutation({
    mutationFn: () => client.skipDelivery(delivery.id),
    onSuccess: (next) => {
      qc.setQueryData(keys.delivery(delivery.id), next);
      void qc.invalidateQueries({ queryKey: ['deliveries'] });
      setAsking(false);
      onSkipped(next);
    },
    onError: () => {
      setAsking(false);
      // It may have finished meanwhile (409): show where it stands now.
      void qc.invalidateQueries({ queryKey: keys.delivery(delivery.id) });
    },
  });
  if (!canSkip(delivery) && !skip.error) return null;
  const key = delivery.ordering_key ?? '';

  return (
    <>
      {canSkip(delivery) && (
        <span className="skip-action">
          <button type="button" className="danger" onClick={() => setAsking(true)} disabled={skip.isPending} aria-describedby={hintId}>
            Skip
          </button>
          <span className="hint" id={hintId}>
            Marks this delivery failed and releases its ordering key <code>{key}</code>, so the key&apos;s next delivery goes.
          </span>
        </span>
      )}
      <ErrorMessage error={skip.error ? describeError(skip.error) : null} />
      {asking && (
        <ConfirmDialog
          title="Skip this delivery?"
          confirmLabel="Skip delivery"
          danger
          busy={skip.isPending}
          onCancel={() => setAsking(false)}
          onConfirm={() => skip.mutate()}
        >
          <p>
            It is marked <strong>failed</strong> (&quot;skipped by operator&quot;) and is not sent again unless you retry it. The
            deliveries waiting behind ordering key <code className="break">{key}</code> go next.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
