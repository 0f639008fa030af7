/**
 * SIGINT/SIGTERM for a long run: the first asks it to stop at its next safe point (it saves what it
 * has), the second quits at once.
 *
 * Node runs a signal handler only between macrotasks, and a tfjs training step is synchronous: a
 * loop that awaits nothing but resolved promises never lets the handler run, and because a handler
 * is installed, the default action (exit) is gone too — Ctrl-C did nothing. Such a loop awaits
 * `turn()` once per step: one macrotask, microseconds against a step's milliseconds.
 */
export interface StopSignals {
  /** The signal that asked to stop, or null. */
  readonly requested: string | null;
  /** Let pending signal handlers run (await once per step). */
  turn(): Promise<void>;
  release(): void;
}

export function stopSignals(
  message: (sig: string) => string,
  log: (s: string) => void,
  onFirst?: () => void,
): StopSignals {
  let requested: string | null = null;
  const onSignal = (sig: string) => {
    if (requested) process.exit(130);
    requested = sig;
    onFirst?.();
    log(`\n${message(sig)} (Again to quit now.)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get requested() {
      return requested;
    },
    turn: () => new Promise<void>((resolve) => setImmediate(resolve)),
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
