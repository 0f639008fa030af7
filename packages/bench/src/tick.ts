/**
 * Lets other work run (progress output, stop requests, worker messages) between training chunks.
 * setImmediate where the host has it (Node: no timer clamp), else a zero timeout (browsers).
 */
const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;

export function nextTick(): Promise<void> {
  return new Promise<void>((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
