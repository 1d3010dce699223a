import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { emptyOverview, fakeFetch, renderApp } from '../test/helpers';

const GOOD = 'right-key';

function server(overrides: { overviewStatus?: number } = {}) {
  return fakeFetch(({ url, headers }) => {
    if (headers.get('Authorization') !== `Bearer ${GOOD}`) {
      return { status: 401, body: { code: 'unauthorized', message: 'Missing or wrong API key.' } };
    }
    if (url.pathname === '/subscriptions/') return { body: [] };
    if (url.pathname === '/stats/overview') {
      return overrides.overviewStatus === 401
        ? { status: 401, body: { code: 'unauthorized', message: 'Missing or wrong API key.' } }
        : { body: emptyOverview() };
    }
    return undefined;
  });
}

describe('sign-in', () => {
  it('sends a visitor without a key to the sign-in page', async () => {
    renderApp('/', server());
    expect(await screen.findByRole('heading', { name: 'Courier', level: 1 })).toBeInTheDocument();
    expect(screen.getByLabelText('API key')).toBeInTheDocument();
  });

  it('signs in with a good key, keeps it in sessionStorage, and shows the overview', async () => {
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/', fetch);
    await user.type(await screen.findByLabelText('API key'), GOOD);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Overview', level: 1 })).toBeInTheDocument();
    expect(sessionStorage.getItem('courier.apiKey')).toBe(GOOD);
    const overviewCall = fetch.mock.calls.find(([u]) => String(u) === '/stats/overview')!;
    expect(new Headers((overviewCall[1] as RequestInit).headers).get('Authorization')).toBe(`Bearer ${GOOD}`);
  });

  it('refuses a wrong key with a message and keeps nothing', async () => {
    const user = userEvent.setup();
    renderApp('/', server());
    await user.type(await screen.findByLabelText('API key'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('That API key was not accepted');
    expect(sessionStorage.getItem('courier.apiKey')).toBeNull();
  });

  it('asks for a key when the field is empty', async () => {
    const user = userEvent.setup();
    renderApp('/ui/sign-in', server());
    await user.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Enter the API key.');
  });

  it('sends the user back to sign-in with a message when a call answers 401', async () => {
    sessionStorage.setItem('courier.apiKey', 'stale-key');
    renderApp('/', server());
    expect(await screen.findByText(/no longer accepts your API key/)).toBeInTheDocument();
    expect(screen.getByLabelText('API key')).toBeInTheDocument();
    expect(sessionStorage.getItem('courier.apiKey')).toBeNull();
  });

  it('signs out from the header', async () => {
    const user = userEvent.setup();
    sessionStorage.setItem('courier.apiKey', GOOD);
    renderApp('/', server());
    await screen.findByRole('heading', { name: 'Overview', level: 1 });
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByText('You signed out.')).toBeInTheDocument();
    expect(sessionStorage.getItem('courier.apiKey')).toBeNull();
  });

  it('returns to the page the user first asked for after signing in', async () => {
    const user = userEvent.setup();
    renderApp('/ui/subscriptions', server());
    await user.type(await screen.findByLabelText('API key'), GOOD);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('heading', { name: 'Subscriptions', level: 1 })).toBeInTheDocument());
  });
});
