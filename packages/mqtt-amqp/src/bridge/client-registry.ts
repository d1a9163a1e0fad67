/** What the registry needs from a bridge to hand its client id over to a newer connection. */
export interface TakeOverable {
  /** Ends this bridge because a newer connection claimed its client id. Must not throw. */
  takeOver(): void;
}

interface Entry<B> {
  readonly bridge: B;
  /** Settles when this bridge and every bridge it displaced have released their AMQP links. */
  readonly gone: Promise<unknown>;
}

function ignore(): void {}

/**
 * Which bridge currently owns each client id. MQTT allows one connection per client id: a second CONNECT
 * with the same id takes the session over and ends the first. Because the Will service link is named after
 * the client id, the newcomer must not attach its links before the displaced bridge has detached its own;
 * `claim` resolves only then. Takeovers chain: a third connection arriving while the second is still
 * waiting waits for both.
 */
export class ClientRegistry<B extends TakeOverable> {
  private readonly entries = new Map<string, Entry<B>>();

  /** Number of client ids currently owned. */
  get size(): number {
    return this.entries.size;
  }

  current(clientId: string): B | undefined {
    return this.entries.get(clientId)?.bridge;
  }

  /**
   * Makes `bridge` the owner of `clientId`, ending the previous owner if any. `released` must settle once
   * `bridge` has detached all its links (after it ends, for whatever reason). Resolves when every previous
   * owner has released its links.
   */
  async claim(clientId: string, bridge: B, released: Promise<void>): Promise<void> {
    const previous = this.entries.get(clientId);
    if (previous === undefined) {
      // The common case holds no promise of its own: a successor absorbs a rejection of `released` itself.
      this.entries.set(clientId, { bridge, gone: released });
      return;
    }
    const predecessorsGone = previous.gone.then(ignore, ignore);
    this.entries.set(clientId, {
      bridge,
      gone: Promise.all([predecessorsGone, released]).then(ignore, ignore),
    });
    previous.bridge.takeOver();
    await predecessorsGone;
  }

  /** Forgets `bridge` as owner of `clientId`, unless a newer bridge has claimed it since. */
  release(clientId: string, bridge: B): void {
    if (this.entries.get(clientId)?.bridge === bridge) this.entries.delete(clientId);
  }
}
