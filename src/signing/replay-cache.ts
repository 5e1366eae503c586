import { createHash } from 'node:crypto';

/** Result of `ReplayCache.record` for one webhook id. */
export type ReplayCheck =
  /** The id was not seen within its window. */
  | 'new'
  /** The id was seen with the same body bytes: a sender retrying one delivery. */
  | 'same_body'
  /** The id was seen with other body bytes: a replayed id with a new payload. */
  | 'different_body';

export interface ReplayCacheOptions {
  /** Most ids kept; beyond it the oldest entries are dropped first. */
  maxEntries: number;
  /** Current time in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  bodyHash: string;
  expiresAt: number;
}

/**
 * Remembers the `webhook-id`s of verified requests until their timestamps leave the
 * tolerance window, with a SHA-256 digest of each body (never the body itself).
 *
 * The cache lives in this process's memory: it is empty after a restart and not shared
 * between processes. Once it contains `maxEntries` ids, recording another drops the
 * oldest, whose replay would then pass this check. Job creation stays idempotent anyway,
 * because a repeated `request_id` never creates a second job.
 */
export class ReplayCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: ReplayCacheOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new TypeError(`maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records `id` with `body` until `expiresAt` (ms since the epoch) and reports whether
   * it was seen before. A repeat with the same body extends the entry's expiry; a repeat
   * with another body leaves the first entry as it was.
   */
  record(id: string, body: Uint8Array, expiresAt: number): ReplayCheck {
    const now = this.#now();
    const bodyHash = createHash('sha256').update(body).digest('base64');
    const existing = this.#entries.get(id);

    if (existing && existing.expiresAt > now) {
      if (existing.bodyHash !== bodyHash) return 'different_body';
      this.#entries.delete(id);
      this.#entries.set(id, { bodyHash, expiresAt: Math.max(existing.expiresAt, expiresAt) });
      return 'same_body';
    }

    this.#entries.delete(id);
    this.#evict(now);
    this.#entries.set(id, { bodyHash, expiresAt });
    return 'new';
  }

  /**
   * Drops expired entries from the oldest end, then the oldest live ones while the cache
   * is full. Insertion order is close to expiry order, because every entry's window has
   * the same length, so the sweep stops at the first live entry.
   */
  #evict(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now && this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(id);
    }
  }
}
