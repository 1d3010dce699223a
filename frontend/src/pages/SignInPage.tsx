import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { describeError } from '../api/client';
import { useAuth } from '../authContext';
import { ErrorMessage, Notice } from '../components/Feedback';
import { paths } from '../paths';

export function SignInPage() {
  const { apiKey, notice, signIn } = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const from = (location.state as { from?: string } | null)?.from ?? paths.overview;
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (apiKey && !busy) return <Navigate to={from} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!key.trim()) {
      setError('Enter the API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
      navigate(from, { replace: true });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <main className="signin" id="main">
      <form className="card form" onSubmit={submit} noValidate>
        <h1>Courier</h1>
        <p>Sign in with the API key the server was started with (<code>COURIER_API_KEY</code>).</p>
        {notice && <Notice>{notice}</Notice>}
        <ErrorMessage error={error} />
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="current-password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            autoFocus
          />
          <p className="hint">Kept in this tab only (session storage) and sent as a Bearer token.</p>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}
