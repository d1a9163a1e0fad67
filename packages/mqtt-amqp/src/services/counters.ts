/** The Subscription service's mutable counters; `SubscriptionService.stats()` hands out a frozen copy. */
export class DeliveryCounters {
  /** Messages held in memory for sessions (queued or sent and unsettled). */
  buffered = 0;
  bufferedHighWater = 0;
  droppedNoCredit = 0;
  droppedBacklogFull = 0;
  expired = 0;
  rejectedByClient = 0;
  droppedByStore = 0;

  addBuffered(delta: number): void {
    this.buffered += delta;
    if (this.buffered > this.bufferedHighWater) this.bufferedHighWater = this.buffered;
  }
}
