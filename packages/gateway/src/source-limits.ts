/**
 * Limits on who may open MQTT connections: connections per source address, and CONNECT rates (token buckets
 * per source address and for the whole gateway). Checked when a connection is accepted; a connection over a
 * limit is not closed blindly but answered with a CONNACK (0x97 quota exceeded / 0x9F connection rate
 * exceeded; 3.1.1 return code 3) by a refusing MQTT server, so that devices see why.
 */

/** Which source limit a connection hit; the `limit` label of `dragoman_limit_hits_total`. */
export type SourceLimit = 'connections-per-address' | 'connect-rate' | 'connect-rate-per-address';

export interface SourceLimitOptions {
  /** Open connections from one source address. */
  readonly maxPerAddress: number;
  /** New connections per second from one address (the bucket holds one second's worth); 0 = no limit. */
  readonly ratePerAddress: number;
  /** New connections per second to the whole gateway; 0 = no limit. */
  readonly rateGlobal: number;
  readonly now?: () => number;
}

/** Buckets kept for addresses before the full (idle) ones are dropped. */
const PRUNE_AT = 10_000;

/** A token bucket of `capacity` tokens refilled at `rate` tokens per second. */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate;
  }
}

export class SourceLimits {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly global: TokenBucket | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SourceLimitOptions) {
    this.now = options.now ?? Date.now;
    this.global = options.rateGlobal > 0 ? new TokenBucket(options.rateGlobal, this.now()) : undefined;
  }

  /** Counts a new connection from `address`, or names the limit it hits (then nothing is counted). */
  admit(address: string): SourceLimit | undefined {
    const open = this.open.get(address) ?? 0;
    if (open >= this.options.maxPerAddress) return 'connections-per-address';
    const now = this.now();
    if (this.options.ratePerAddress > 0) {
      let bucket = this.buckets.get(address);
      if (bucket === undefined) {
        if (this.buckets.size >= PRUNE_AT) this.prune(now);
        bucket = new TokenBucket(this.options.ratePerAddress, now);
        this.buckets.set(address, bucket);
      }
      if (!bucket.take(now)) return 'connect-rate-per-address';
    }
    if (this.global !== undefined && !this.global.take(now)) return 'connect-rate';
    this.open.set(address, open + 1);
    return undefined;
  }

  /** An admitted connection from `address` closed. */
  release(address: string): void {
    const open = this.open.get(address) ?? 0;
    if (open <= 1) this.open.delete(address);
    else this.open.set(address, open - 1);
  }

  /** Addresses tracked (for tests and metrics). */
  get addresses(): number {
    return this.open.size;
  }

  /** Drops the buckets that are full again: a new one for that address starts full, so nothing changes. */
  private prune(now: number): void {
    for (const [address, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(address);
  }
}
