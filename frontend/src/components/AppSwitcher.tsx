/**
 * Which application the dashboard looks at. "All applications" is the plain routes: the
 * `default` application's subscriptions, and every application's deliveries, messages,
 * overview and live tail for an admin key. Choosing one sends every per-application call to
 * `/applications/{app}/…` (the explorer narrows with `?application=`). Hidden for keys that
 * cannot list applications (application keys see only their own anyway).
 */
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { applications } from '../api/tenancy';
import { useAuth } from '../authContext';

export function AppSwitcher() {
  const { client, app, setApp } = useAuth();
  const navigate = useNavigate();
  const list = useQuery({ queryKey: ['applications', 'switcher'], queryFn: () => applications.list(client, { limit: 200 }), staleTime: 60_000 });
  if (list.isError || !list.data) return null;
  const known = list.data.items.some((a) => a.uid === app);
  return (
    <div className="app-switcher">
      <label htmlFor="app-switcher" className="sr-only">Application</label>
      <select
        id="app-switcher"
        value={app ?? ''}
        onChange={(e) => {
          setApp(e.target.value || null);
          navigate(e.target.value ? '/ui/subscriptions' : '/');
        }}
      >
        <option value="">All applications</option>
        {!known && app && <option value={app}>{app}</option>}
        {list.data.items.map((a) => (
          <option key={a.id} value={a.uid}>{a.name} ({a.uid})</option>
        ))}
      </select>
    </div>
  );
}
