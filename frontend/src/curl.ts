/**
 * "Copy as curl": the request an attempt made, as a shell command, rebuilt from what the API
 * shows. Pure, so it is tested without rendering.
 */

/** Single-quotes `s` for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Headers curl sets itself from the command. */
const SKIP = new Set(['content-length', 'host', 'connection', 'transfer-encoding']);

/** Header names whose value the API masked (`Bea…***`): they must be filled in by hand. */
export function maskedHeaders(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([, v]) => /\*\*\*/.test(v))
    .map(([k]) => k);
}

export function curlCommand(url: string, headers: Record<string, string>, body: string): string {
  const lines = [`curl -X POST ${shellQuote(url)}`];
  for (const [name, value] of Object.entries(headers)) {
    if (!SKIP.has(name.toLowerCase())) lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
  }
  lines.push(`  --data-raw ${shellQuote(body)}`);
  return lines.join(' \\\n');
}

/** The payload as the body text: a string payload is sent as is, anything else as JSON. */
export function bodyText(payload: unknown): string {
  return typeof payload === 'string' ? payload : JSON.stringify(payload);
}
