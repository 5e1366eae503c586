import { describe, expect, it } from 'vitest';
import { ReplayCache } from '../src/signing/replay-cache.js';

const bytes = (text: string) => new TextEncoder().encode(text);

function cacheAt(maxEntries: number) {
  const clock = { now: 1_000_000 };
  const cache = new ReplayCache({ maxEntries, now: () => clock.now });
  return { cache, clock };
}

describe('ReplayCache', () => {
  it('tells new, same-body and different-body ids apart', () => {
    const { cache, clock } = cacheAt(10);
    const expiresAt = clock.now + 60_000;
    expect(cache.record('msg_1', bytes('{"a":1}'), expiresAt)).toBe('new');
    expect(cache.record('msg_1', bytes('{"a":1}'), expiresAt)).toBe('same_body');
    expect(cache.record('msg_1', bytes('{"a": 1}'), expiresAt)).toBe('different_body');
    expect(cache.record('msg_2', bytes('{"a":1}'), expiresAt)).toBe('new');
  });

  it('forgets an id after it expires', () => {
    const { cache, clock } = cacheAt(10);
    cache.record('msg_1', bytes('one'), clock.now + 1000);
    clock.now += 1001;
    expect(cache.record('msg_1', bytes('two'), clock.now + 1000)).toBe('new');
  });

  it('extends the expiry on a same-body retry', () => {
    const { cache, clock } = cacheAt(10);
    cache.record('msg_1', bytes('one'), clock.now + 1000);
    clock.now += 900;
    expect(cache.record('msg_1', bytes('one'), clock.now + 1000)).toBe('same_body');
    clock.now += 900;
    expect(cache.record('msg_1', bytes('two'), clock.now + 1000)).toBe('different_body');
  });

  it('never holds more than maxEntries ids', () => {
    const { cache, clock } = cacheAt(3);
    for (let index = 0; index < 10; index += 1) cache.record(`msg_${index}`, bytes('x'), clock.now + 60_000);
    expect(cache.size).toBe(3);
    // The oldest ids were dropped first; the newest are still known.
    expect(cache.record('msg_9', bytes('y'), clock.now + 60_000)).toBe('different_body');
    expect(cache.record('msg_0', bytes('y'), clock.now + 60_000)).toBe('new');
  });

  it('drops expired entries before live ones', () => {
    const { cache, clock } = cacheAt(3);
    cache.record('short', bytes('x'), clock.now + 10);
    cache.record('long-1', bytes('x'), clock.now + 60_000);
    cache.record('long-2', bytes('x'), clock.now + 60_000);
    clock.now += 20;
    cache.record('long-3', bytes('x'), clock.now + 60_000);
    expect(cache.size).toBe(3);
    expect(cache.record('long-1', bytes('other'), clock.now + 60_000)).toBe('different_body');
  });

  it('rejects a non-positive maxEntries', () => {
    expect(() => new ReplayCache({ maxEntries: 0 })).toThrow(/maxEntries must be a positive integer/);
  });
});
