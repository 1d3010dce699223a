/** The colour theme: light, dark, or the system's choice, kept in localStorage as `data-theme` on <html>. */

export type Theme = 'system' | 'light' | 'dark';
export const THEME_KEY = 'courier.theme';

export function stored(): Theme {
  try {
    const t = window.localStorage.getItem(THEME_KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

/** Applies the stored theme before React renders (called from main.tsx), so there is no flash. */
export function applyStoredTheme() {
  const t = stored();
  if (t === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset.theme = t;
}
