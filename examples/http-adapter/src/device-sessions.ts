import type { AdapterContext, DeviceSession, DeviceSessionOptions } from '@dragoman/adapter';

/**
 * The device sessions of the HTTP adapter, one per device id, kept across requests so that links are not
 * attached per request. At most `max` are kept: opening one more closes the least recently used session
 * that is idle (nothing waiting for credit or an outcome, no command poll); when every session is busy the
 * request is refused (`undefined`, answered 503).
 */
export class DeviceSessions {
  readonly #sessions = new Map<string, Promise<DeviceSession>>();

  constructor(
    private readonly context: AdapterContext,
    private readonly max: number,
    private readonly options: DeviceSessionOptions,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  async get(deviceId: string): Promise<DeviceSession | undefined> {
    const existing = this.#sessions.get(deviceId);
    if (existing !== undefined) {
      const session = await existing.catch(() => undefined);
      if (session !== undefined && session.state === 'open') {
        // Most recently used goes last.
        this.#sessions.delete(deviceId);
        this.#sessions.set(deviceId, existing);
        return session;
      }
      if (this.#sessions.get(deviceId) === existing) this.#sessions.delete(deviceId);
    }
    if (this.#sessions.size >= this.max && !(await this.#evictIdle())) return undefined;
    const opening = this.context.openDeviceSession(deviceId, this.options);
    this.#sessions.set(deviceId, opening);
    opening.catch(() => {
      if (this.#sessions.get(deviceId) === opening) this.#sessions.delete(deviceId);
    });
    return opening;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(all.map((s) => s.then((session) => session.close()).catch(() => undefined)));
  }

  async #evictIdle(): Promise<boolean> {
    for (const [deviceId, pending] of this.#sessions) {
      const session = await pending.catch(() => undefined);
      const stats = session?.stats();
      if (stats !== undefined && (stats.queued > 0 || stats.unsettled > 0 || stats.commandReceivers > 0))
        continue;
      this.#sessions.delete(deviceId);
      await session?.close();
      return true;
    }
    return false;
  }
}
