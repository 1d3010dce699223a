import { describe, expect, it } from 'vitest';
import { bodyText, curlCommand, maskedHeaders, shellQuote } from './curl';

describe('copy as curl', () => {
  it('quotes values for a POSIX shell, single quotes included', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('sends every header but the ones curl sets, and the body as sent', () => {
    const cmd = curlCommand(
      'https://example.com/hook?a=1',
      { 'content-type': 'application/json', 'content-length': '12', 'webhook-id': 'm1' },
      '{"a":"it\'s"}',
    );
    expect(cmd).toBe(
      [
        "curl -X POST 'https://example.com/hook?a=1'",
        "  -H 'content-type: application/json'",
        "  -H 'webhook-id: m1'",
        `  --data-raw '{"a":"it'\\''s"}'`,
      ].join(' \\\n'),
    );
  });

  it('names the headers the API masked', () => {
    expect(maskedHeaders({ authorization: 'Bea…***', 'x-team': 'a' })).toEqual(['authorization']);
  });

  it('sends a string payload as it is and anything else as JSON', () => {
    expect(bodyText('raw text')).toBe('raw text');
    expect(bodyText({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });
});
