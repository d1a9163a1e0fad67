/**
 * Keep-alive enforcement: the connection is considered dead when nothing arrived for 1.5 x the
 * keep-alive interval (MQTT-3.1.2-24). Activity only stores a timestamp; one timer re-arms itself.
 */
export class KeepAliveMonitor {
  private lastActivity = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly limitMs: number;

  /** keepAliveSeconds 0 disables the monitor. */
  constructor(
    keepAliveSeconds: number,
    private readonly onExpired: () => void,
  ) {
    this.limitMs = keepAliveSeconds * 1500;
  }

  start(): void {
    if (this.limitMs === 0 || this.timer !== undefined) return;
    this.lastActivity = performance.now();
    this.schedule(this.limitMs);
  }

  /** Called for every chunk received. */
  activity(): void {
    this.lastActivity = performance.now();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      const idle = performance.now() - this.lastActivity;
      if (idle >= this.limitMs) {
        this.timer = undefined;
        this.onExpired();
      } else {
        this.schedule(this.limitMs - idle);
      }
    }, Math.ceil(delayMs));
    this.timer.unref();
  }
}
