/**
 * Rates and time left, from samples of a growing total (bytes and rows copied): "now" over the
 * last half minute, and the average since the first sample. Pure arithmetic on the times it is
 * given, so workflows (whose clock is deterministic) and the CLI use it alike.
 */
export interface Rates {
  bytesPerSecond: number;
  rowsPerSecond: number;
  avgBytesPerSecond: number;
  avgRowsPerSecond: number;
  /** Time left at the current rate (the average when nothing moved lately); absent when unknown. */
  etaSeconds?: number;
}

interface Sample {
  at: number;
  bytes: number;
  rows: number;
}

/** The window "now" is measured over. */
const WINDOW_MS = 30_000;

export class RateWindow {
  private readonly samples: Sample[] = [];
  private first?: Sample;

  get lastAt(): number | undefined {
    return this.samples[this.samples.length - 1]?.at;
  }

  sample(at: number, bytes: number, rows: number): void {
    const s = { at, bytes, rows };
    this.first ??= s;
    const last = this.samples[this.samples.length - 1];
    if (last && at - last.at < 1_000) this.samples.pop(); // at most one a second
    this.samples.push(s);
    while (this.samples.length > 2 && at - this.samples[1].at >= WINDOW_MS) this.samples.shift();
  }

  rates(bytesLeft: number, now: number): Rates | undefined {
    const first = this.first;
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || now - first.at < 1_000) return undefined;
    const perSecond = (a: Sample, b: Sample, key: 'bytes' | 'rows', end: number) => {
      const seconds = (Math.max(end, b.at) - a.at) / 1000;
      return seconds > 0 ? Math.max(0, (b[key] - a[key]) / seconds) : 0;
    };
    const oldest = this.samples[0];
    const rates: Rates = {
      bytesPerSecond: Math.round(perSecond(oldest, last, 'bytes', now)),
      rowsPerSecond: Math.round(perSecond(oldest, last, 'rows', now)),
      avgBytesPerSecond: Math.round(perSecond(first, last, 'bytes', now)),
      avgRowsPerSecond: Math.round(perSecond(first, last, 'rows', now)),
    };
    const speed = rates.bytesPerSecond || rates.avgBytesPerSecond;
    if (bytesLeft <= 0) rates.etaSeconds = 0;
    else if (speed > 0) rates.etaSeconds = Math.round(bytesLeft / speed);
    return rates;
  }
}

/** `1 h 05 min`, `4 min 10 s`, `12 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** MB/s (MiB, as the rest of pgferry counts). */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1048576).toFixed(1)} MB/s`;
}

/** `12.3 MB/s, 45000 rows/s now · 10.1 MB/s, 40000 rows/s on average · about 4 min 10 s left`. */
export function describeRates(r: Rates): string {
  const left = r.etaSeconds !== undefined ? ` · about ${formatDuration(r.etaSeconds)} left` : '';
  return `${formatRate(r.bytesPerSecond)}, ${r.rowsPerSecond} rows/s now · ${formatRate(r.avgBytesPerSecond)}, ${r.avgRowsPerSecond} rows/s on average${left}`;
}
