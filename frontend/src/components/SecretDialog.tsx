/**
 * Shows a signing secret once. The secret is never fetched again: when this dialog closes,
 * the only copy the dashboard had is dropped (the parent clears its state).
 */
import { useRef, useState, type ReactNode } from 'react';
import { Modal } from './Modal';

interface Props {
  secret: string;
  title: string;
  onClose: () => void;
  /** More to say beside the secret (e.g. how long the previous one keeps signing). */
  children?: ReactNode;
  /** What the value is (default: a signing secret). */
  label?: string;
  /** The first paragraph, when it is not a signing secret. */
  intro?: ReactNode;
  /** The closing button (default: "I have stored the secret"). */
  doneLabel?: string;
}

export function SecretDialog({ secret, title, onClose, children, label = 'Signing secret', intro, doneLabel = 'I have stored the secret' }: Props) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'failed'>('idle');

  async function copy() {
    try {
      if (navigator.clipboard?.writeText) {
        await navigator.clipboard.writeText(secret);
      } else {
        inputRef.current?.select();
        if (!document.execCommand?.('copy')) throw new Error('copy refused');
      }
      setCopyState('copied');
    } catch {
      inputRef.current?.select();
      setCopyState('failed');
    }
  }

  return (
    <Modal title={title}>
      {intro ?? (
        <p>
          This is the only time the secret is shown. Store it where your receiver can read it; Courier will not show it
          again.
        </p>
      )}
      <label htmlFor="secret-value">{label}</label>
      <div className="secret-row">
        <input
          id="secret-value"
          ref={inputRef}
          className="mono"
          readOnly
          value={secret}
          onFocus={(e) => e.currentTarget.select()}
          data-testid="secret-value"
        />
        <button type="button" onClick={copy} data-autofocus>
          Copy
        </button>
      </div>
      {children}
      <p role="status" className="hint">
        {copyState === 'copied' && 'Copied to the clipboard.'}
        {copyState === 'failed' && 'Could not copy automatically: the secret is selected, press Ctrl+C (⌘C) to copy it.'}
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={onClose}>
          {doneLabel}
        </button>
      </div>
    </Modal>
  );
}
