import { describe, expect, it } from 'vitest';
import { ConnectionLoss, type ConnectionLossListener } from '../../src/bridge/connection-loss';

/** A listener that runs `then` when told of the loss. */
function listener(then: () => void): ConnectionLossListener {
  return { connectionLost: then };
}

describe('ConnectionLoss', () => {
  it('calls each listener still registered once, even when one throws', () => {
    const loss = new ConnectionLoss();
    const calls: string[] = [];
    const gone = listener(() => {
      calls.push('gone');
    });
    loss.on(listener(() => calls.push('a')));
    loss.on(
      listener(() => {
        throw new Error('bad listener');
      }),
    );
    loss.on(gone);
    loss.off(gone);
    loss.on(listener(() => calls.push('b')));
    loss.fire();
    loss.fire();
    expect(loss.lost).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('takes no listener once lost (the caller checks `lost` first)', () => {
    const loss = new ConnectionLoss();
    loss.fire();
    let called = false;
    loss.on(
      listener(() => {
        called = true;
      }),
    );
    loss.fire();
    expect(called).toBe(false);
  });
});
