import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** A counter whose series are found by their label values. */
export interface LabelledCounter {
  inc(labels?: Record<string, string>): void;
}

/** One registry per app instance (no globals), so several apps can live in one test process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = this.counter(
    'gatehouse_http_requests_total',
    'HTTP requests by method, route and status.',
    ['method', 'route', 'status'],
  );
  private readonly duration = seriesOf(
    new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request duration by method and route.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    }),
  );

  constructor(collectDefaults = true) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration({ method, route }).observe(seconds);
  }

  counter(name: string, help: string, labelNames: string[] = []): LabelledCounter {
    const series = seriesOf(new Counter({ name, help, labelNames, registers: [this.registry] }));
    return { inc: (labels = {}) => series(labels).inc() };
  }
}

/**
 * A labelled metric's series, each looked up once: prom-client would hash the labels on every
 * call, and these counters sit on hot paths (every request, every key verification). Label values
 * are bounded by their callers (routes, results), so the map is too.
 */
function seriesOf<S>(metric: {
  labels(labels: Record<string, string>): S;
}): (labels: Record<string, string>) => S {
  const known = new Map<string, S>();
  return (labels) => {
    const key = Object.values(labels).join('\u0000');
    let s = known.get(key);
    if (!s) {
      s = metric.labels(labels);
      known.set(key, s);
    }
    return s;
  };
}
