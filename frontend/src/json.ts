/** JSON text in forms: parse what was typed (in words when it is not JSON), show what is stored. */
/** The JSON of `text`: `undefined` for blank, or an error message in words. */
export function parseJson(text: string): { value?: unknown; error?: string } {
  if (!text.trim()) return {};
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
}

export function toJsonText(value: unknown): string {
  return value === undefined || value === null ? '' : JSON.stringify(value, null, 2);
}
