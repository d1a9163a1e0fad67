import { InvalidArgumentError } from './errors';

/**
 * Credit accounting for a receiver. In managed mode (size > 0) it keeps
 * `credit held by the peer + deliveries buffered + deliveries handed out but unsettled <= size`, and tops the
 * peer up in batches of at least a quarter window (at once when the peer has no credit left), so flow frames
 * stay few. In manual mode (size 0) it only remembers credit to grant again after a re-attach.
 */
export class CreditWindow {
  readonly size: number;
  #unsettled = 0;
  #pendingManual = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0)
      throw new InvalidArgumentError('creditWindow must be a non-negative integer');
    this.size = size;
  }

  get manual(): boolean {
    return this.size === 0;
  }

  /** Deliveries handed out and not yet settled. */
  get unsettled(): number {
    return this.#unsettled;
  }

  handedOut(): void {
    this.#unsettled++;
  }

  settled(): void {
    if (this.#unsettled > 0) this.#unsettled--;
  }

  /** Manual credit given while no link is attached. */
  addPending(n: number): void {
    this.#pendingManual += n;
  }

  /** The link dropped holding `outstanding` credit: manual mode grants it again on re-attach. */
  disconnected(outstanding: number): void {
    if (this.manual) this.#pendingManual += outstanding;
  }

  /** Credit to grant when a link instance attaches (fresh, or after a reconnect). */
  onAttached(buffered: number): number {
    this.#unsettled = 0;
    if (this.manual) {
      const grant = this.#pendingManual;
      this.#pendingManual = 0;
      return grant;
    }
    return Math.max(0, this.size - buffered);
  }

  /** Credit to add now, given the peer's current credit and the deliveries waiting to be taken. */
  topUp(credit: number, buffered: number): number {
    if (this.manual) return 0;
    const deficit = this.size - (credit + buffered + this.#unsettled);
    if (deficit <= 0) return 0;
    if (credit === 0 || deficit >= Math.max(1, Math.floor(this.size / 4))) return deficit;
    return 0;
  }
}
