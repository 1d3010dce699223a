/** The frame around every signed-in page: header (nav, id lookup, sign out), main, footer. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../authContext';
import { paths } from '../paths';
import { AppSwitcher } from './AppSwitcher';
import { ThemeToggle } from './ThemeToggle';

/** The main navigation. */
const NAV: { to: string; label: string; end?: boolean }[] = [
  { to: paths.overview, label: 'Overview', end: true },
  { to: paths.deliveries, label: 'Deliveries' },
  { to: paths.messages, label: 'Messages' },
  { to: paths.subscriptions, label: 'Subscriptions' },
  { to: paths.applications, label: 'Applications' },
  { to: paths.eventTypes, label: 'Event types' },
];

export function Layout() {
  const { signOut } = useAuth();
  const location = useLocation();
  const first = useRef(true);

  // After client-side navigation, move focus to the new page's heading so keyboard and
  // screen-reader users start at the top of what changed.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const h1 = document.querySelector<HTMLElement>('main h1');
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: false });
    }
  }, [location.pathname]);

  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to={paths.overview} className="brand" end>
          Courier
        </NavLink>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <NavLink key={n.to} to={n.to} end={n.end}>
              {n.label}
            </NavLink>
          ))}
        </nav>
        <AppSwitcher />
        <LookupBox />
        <ThemeToggle />
        <button type="button" className="signout" onClick={() => signOut('You signed out.')}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Outlet />
      </main>
      <footer className="footer">
        <span>Courier webhook delivery</span>
        <a href="/redoc">API reference</a>
        <a href="/openapi.json">OpenAPI</a>
        <a href="/health">Health</a>
      </footer>
    </div>
  );
}

function LookupBox() {
  const [id, setId] = useState('');
  const navigate = useNavigate();
  function submit(e: FormEvent) {
    e.preventDefault();
    const trimmed = id.trim();
    if (!trimmed) return;
    navigate(paths.lookup(trimmed));
    setId('');
  }
  return (
    <form className="lookup" role="search" onSubmit={submit}>
      <label htmlFor="lookup-id" className="sr-only">
        Look up an id (delivery, message or subscription)
      </label>
      <input
        id="lookup-id"
        type="search"
        placeholder="Id, or a piece of one"
        value={id}
        onChange={(e) => setId(e.target.value)}
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit">Look up</button>
    </form>
  );
}
