import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepAliveMonitor, type KeepAliveOwner } from '../src/keep-alive';

/** An owner whose expiry is `expired` and whose reading is paused while `paused()` says so. */
function owner(expired: () => void, paused: () => boolean = () => false): KeepAliveOwner {
  return {
    keepAliveExpired: expired,
    get readingPaused() {
      return paused();
    },
  };
}

describe('KeepAliveMonitor', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires after 1.5 x the keep-alive without activity, not before', () => {
    const expired = vi.fn();
    const monitor = new KeepAliveMonitor(10, owner(expired));
    monitor.start();
    vi.advanceTimersByTime(14_999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('counts from the last activity', () => {
    const expired = vi.fn();
    const monitor = new KeepAliveMonitor(2, owner(expired));
    monitor.start();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(2_500);
      monitor.activity();
    }
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(3_000);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('does not count the time the server itself stopped reading', () => {
    const expired = vi.fn();
    let paused = true;
    const monitor = new KeepAliveMonitor(
      1,
      owner(expired, () => paused),
    );
    monitor.start();
    vi.advanceTimersByTime(60_000);
    expect(expired).not.toHaveBeenCalled();
    paused = false;
    vi.advanceTimersByTime(3_000);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('is disabled by a keep-alive of 0 and stops on stop()', () => {
    const expired = vi.fn();
    new KeepAliveMonitor(0, owner(expired)).start();
    const stopped = new KeepAliveMonitor(1, owner(expired));
    stopped.start();
    stopped.stop();
    vi.advanceTimersByTime(60_000);
    expect(expired).not.toHaveBeenCalled();
  });
});
