/** What the registry needs from a bridge to hand its client id over to a newer connection. */
export interface TakeOverable {
  /** Ends this bridge because a newer connection claimed its client id. Must not throw. */
  takeOver(): void;
  /**
   * Settles once the bridge has detached all its links (after it ends, for whatever reason). Asked for only
   * when a newer connection claims the client id, so a bridge may make it then.
   */
  readonly released: Promise<void>;
}

interface Entry<B> {
  readonly bridge: B;
  /**
   * Settles when this bridge and every bridge it displaced have released their AMQP links; undefined when it
   * displaced none (then `bridge.released` is that promise).
   */
  readonly gone: Promise<unknown> | undefined;
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
   * Makes `bridge` the owner of `clientId`, ending the previous owner if any. Resolves when every previous
   * owner has released its links.
   */
  async claim(clientId: string, bridge: B): Promise<void> {
    const previous = this.entries.get(clientId);
    if (previous === undefined) {
      // The common case holds no promise: a successor asks for `bridge.released` (and absorbs its rejection).
      this.entries.set(clientId, { bridge, gone: undefined });
      return;
    }
    const predecessorsGone = (previous.gone ?? previous.bridge.released).then(ignore, ignore);
    this.entries.set(clientId, {
      bridge,
      gone: Promise.all([predecessorsGone, bridge.released]).then(ignore, ignore),
    });
    previous.bridge.takeOver();
    await predecessorsGone;
  }

  /** Forgets `bridge` as owner of `clientId`, unless a newer bridge has claimed it since. */
  release(clientId: string, bridge: B): void {
    if (this.entries.get(clientId)?.bridge === bridge) this.entries.delete(clientId);
  }
}
