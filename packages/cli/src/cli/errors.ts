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

/**
 * The warning for a records line that could not be used. It says what happens to the line and to its
 * seed, so that a user does not delete a store for one bad line: the line stays byte for byte, and
 * the seed counts as missing (`nalm run` on the store trains it again).
 */
export function skippedLineWarning(prog: string, p: { file: string; line: number; reason: string }): string {
  return (
    `${prog}: warning: ${printable(`${p.file}:${p.line}: ${p.reason}`)} ` +
    `(line skipped and left in place; its seed counts as not run, and \`nalm run\` on this store trains it again)\n`
  );
}
