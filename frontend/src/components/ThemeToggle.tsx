/** Light, dark, or the system's choice; kept in localStorage and set as `data-theme` on <html>. */
import { useEffect, useState } from 'react';
import { stored, THEME_KEY, type Theme } from '../theme';

const NEXT: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };
const LABEL: Record<Theme, string> = { system: 'Theme: system', dark: 'Theme: dark', light: 'Theme: light' };

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    try {
      if (theme === 'system') window.localStorage.removeItem(THEME_KEY);
      else window.localStorage.setItem(THEME_KEY, theme);
    } catch {
      /* storage unavailable: the choice lasts for this page */
    }
    if (theme === 'system') document.documentElement.removeAttribute('data-theme');
    else document.documentElement.dataset.theme = theme;
  }, [theme]);
  return (
    <button type="button" className="theme" onClick={() => setTheme(NEXT[theme])} aria-label={`${LABEL[theme]} (change)`} data-testid="theme">
      {LABEL[theme]}
    </button>
  );
}
