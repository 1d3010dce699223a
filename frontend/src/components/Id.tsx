/**
 * Ids on screen: the random tail (`…3f9a1c2b7d4e`, see `shortId`) so that rows differ, the
 * whole id in the tooltip, and a copy button that copies the whole id.
 */
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { shortId } from '../format';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (permissions, old browser): the selection fallback.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand?.('copy') ?? false;
    area.remove();
    return ok;
  }
}

export function CopyButton({ text, label = 'Copy', what = 'id' }: { text: string; label?: string; what?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = window.setTimeout(() => setState('idle'), 1500);
    return () => window.clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      className="copy"
      aria-label={`${label} ${what}`}
      title={`${label} ${what}`}
      data-copy={text}
      onClick={async () => setState((await copyText(text)) ? 'copied' : 'failed')}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : label}
    </button>
  );
}

/** A short id, linking to `to` when given, with a copy button. `full` shows all of it. */
export function Id({ value, to, full = false, label }: { value: string; to?: string; full?: boolean; label?: string }) {
  const text = full ? value : shortId(value);
  const shown = to ? (
    <Link to={to} className="mono" title={value} aria-label={label ? `${label} ${value}` : undefined} data-id={value}>
      {text}
    </Link>
  ) : (
    <span className="mono" title={value} data-id={value}>
      {text}
    </span>
  );
  return (
    <span className="id">
      {shown}
      <CopyButton text={value} />
    </span>
  );
}
