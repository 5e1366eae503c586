/**
 * Returns the delay before retry number `attempt` (1 for the first retry): `baseMs`
 * doubled per attempt, with ±20% jitter so retries of many failures spread out, capped at
 * `maxMs`. In milliseconds, rounded.
 */
export function exponentialBackoff(baseMs: number, attempt: number, maxMs: number = Number.POSITIVE_INFINITY): number {
  const exponential = baseMs * 2 ** (attempt - 1);
  return Math.round(Math.min(maxMs, exponential * (0.8 + Math.random() * 0.4)));
}
