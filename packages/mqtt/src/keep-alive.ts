/**
 * Keep-alive enforcement: the connection is considered dead when nothing arrived for 1.5 x the
 * keep-alive interval (MQTT-3.1.2-24). Activity only stores a timestamp; one timer re-arms itself.
 */
export class KeepAliveMonitor {
  private lastActivity = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly limitMs: number;

  /**
   * keepAliveSeconds 0 disables the monitor. While `isPaused()` is true (the server itself is not
   * reading the socket, e.g. back-pressure), silence is not the client's fault and does not count.
   */
  constructor(
    keepAliveSeconds: number,
    private readonly onExpired: () => void,
    private readonly isPaused: () => boolean = () => false,
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
      if (this.isPaused()) this.lastActivity = performance.now();
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
