/**
 * Keep-alive enforcement: the connection is considered dead when nothing arrived for 1.5 x the
 * keep-alive interval (MQTT-3.1.2-24). Activity only stores a timestamp; one timer re-arms itself.
 */

/** What the monitor reports to and asks of (one object, not two closures per connection). */
export interface KeepAliveOwner {
  /** Nothing arrived in time: the connection is dead. */
  keepAliveExpired(): void;
  /** While true (the server itself is not reading the socket, e.g. back-pressure), silence does not count. */
  readonly readingPaused: boolean;
}

export class KeepAliveMonitor {
  private lastActivity = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly limitMs: number;

  /** keepAliveSeconds 0 disables the monitor. */
  constructor(
    keepAliveSeconds: number,
    private readonly owner: KeepAliveOwner,
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
    this.timer = setTimeout(KeepAliveMonitor.check, Math.ceil(delayMs), this);
    this.timer.unref();
  }

  /** The timer's callback: one function for every monitor, given it as argument (no closure per schedule). */
  private static check(monitor: KeepAliveMonitor): void {
    if (monitor.owner.readingPaused) monitor.lastActivity = performance.now();
    const idle = performance.now() - monitor.lastActivity;
    if (idle >= monitor.limitMs) {
      monitor.timer = undefined;
      monitor.owner.keepAliveExpired();
    } else {
      monitor.schedule(monitor.limitMs - idle);
    }
  }
}
