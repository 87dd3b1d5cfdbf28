import { Injectable } from '@nestjs/common';

const WINDOW = 10_000;

/**
 * In-process lifecycle figures: write-to-decision lag of every memory a tick looked at
 * (a decision to do nothing counts too), and action counts. The database holds the
 * cross-process view (lifecycle_events); this one is for /metrics and benches.
 */
@Injectable()
export class LifecycleMetrics {
  private readonly lags: number[] = [];
  private next = 0;
  readonly actions = new Map<string, number>();
  failures = 0;

  recordLag(ms: number): void {
    if (this.lags.length < WINDOW) this.lags.push(ms);
    else this.lags[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
  }

  recordAction(policy: string, type: string): void {
    const key = `${policy}\u0001${type}`;
    this.actions.set(key, (this.actions.get(key) ?? 0) + 1);
  }

  lagPercentile(p: number): number | null {
    if (!this.lags.length) return null;
    const sorted = [...this.lags].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  }

  reset(): void {
    this.lags.length = 0;
    this.next = 0;
    this.actions.clear();
    this.failures = 0;
  }
}
