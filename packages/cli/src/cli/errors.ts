/** A mistake in what the user asked for: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Text safe to print on a terminal: control characters (escape sequences from corrupt bytes, for
 * one) shown as \xNN, the U+FFFD of undecodable bytes kept, long texts cut.
 */
export function printable(text: string, max = 300): string {
  const s = text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
