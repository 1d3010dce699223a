/** A JSON text area (forms hold text while typing; `json.ts` parses it). */
import type { ReactNode } from 'react';

interface Props {
  id: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
  error?: string | null;
  hint?: ReactNode;
  rows?: number;
}

export function JsonField({ id, label, value, onChange, error, hint, rows = 5 }: Props) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        className="mono"
        rows={rows}
        spellCheck={false}
        value={value}
        aria-invalid={error ? true : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint && <p className="hint">{hint}</p>}
      {error && <p className="field-error">{error}</p>}
    </div>
  );
}
