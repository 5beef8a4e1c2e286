/**
 * A token bucket with debt: taking more tokens than there are is allowed and answered with
 * how long to wait until the balance is back at zero. So a chunk bigger than the burst passes
 * at once and the rate still holds over time, and a new rate applies to the debt at once.
 * Time is passed in (ms), so the logic is testable without clocks.
 */
export class TokenBucket {
  private balance = 0;
  private at: number;

  /** `rate` per second, undefined = unlimited; at most `burstSeconds` of it saved up. */
  constructor(private rate: number | undefined, now: number, private readonly burstSeconds = 0.2) {
    this.at = now;
  }

  get perSecond(): number | undefined {
    return this.rate;
  }

  setRate(rate: number | undefined, now: number): void {
    this.refill(now);
    if (rate === undefined) this.balance = 0;
    this.rate = rate;
  }

  /** Takes `n` tokens; returns the ms to wait before going on (0 within the limit). */
  take(n: number, now: number): number {
    this.refill(now);
    if (this.rate === undefined) return 0;
    this.balance -= n;
    return this.balance >= 0 ? 0 : (-this.balance / this.rate) * 1000;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.at);
    this.at = now;
    if (this.rate === undefined) return;
    this.balance = Math.min(this.rate * this.burstSeconds, this.balance + (this.rate * elapsed) / 1000);
  }
}
