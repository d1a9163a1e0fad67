import { describe, expect, it } from 'vitest';
import { ConnectionLoss } from '../../src/bridge/connection-loss';

describe('ConnectionLoss', () => {
  it('calls each listener still registered once, even when one throws', () => {
    const loss = new ConnectionLoss();
    const calls: string[] = [];
    const gone = (): void => {
      calls.push('gone');
    };
    loss.on(() => calls.push('a'));
    loss.on(() => {
      throw new Error('bad listener');
    });
    loss.on(gone);
    loss.off(gone);
    loss.on(() => calls.push('b'));
    loss.fire();
    loss.fire();
    expect(loss.lost).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('takes no listener once lost (the caller checks `lost` first)', () => {
    const loss = new ConnectionLoss();
    loss.fire();
    let called = false;
    loss.on(() => {
      called = true;
    });
    loss.fire();
    expect(called).toBe(false);
  });
});
