import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

/** A counter whose series are found by their label values. */
export interface LabelledCounter {
  inc(labels?: Record<string, string>): void;
}

/** One registry per app instance (no globals), so several apps can live in one test process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestStats();

  constructor(collectDefaults = true) {
    this.requests.register(this.registry);
    if (collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }

  counter(name: string, help: string, labelNames: string[] = []): LabelledCounter {
    const series = seriesOf(new Counter({ name, help, labelNames, registers: [this.registry] }));
    return { inc: (labels = {}) => series(labels).inc() };
  }
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RequestSeries {
  method: string;
  route: string;
  byStatus: Map<number, number>;
  /** Observations per bucket (not cumulative), then above the last bound. */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Every request is counted and timed, so this is kept as plain numbers (prom-client validates and
 * hashes the labels on each call); prom-client reads them when /metrics is scraped, as the counter
 * `gatehouse_http_requests_total{method,route,status}` and the histogram
 * `gatehouse_http_request_duration_seconds{method,route}`. Label values are bounded by the caller
 * (route patterns and families, HTTP methods Node accepts, status codes).
 */
class RequestStats {
  private readonly series = new Map<string, RequestSeries>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = {
        method,
        route,
        byStatus: new Map(),
        buckets: DURATION_BUCKETS.map(() => 0).concat(0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  register(registry: Registry): void {
    const all = () => [...this.series.values()];
    const reset = () => this.series.clear();
    registry.registerMetric(
      scraped(
        'gatehouse_http_requests_total',
        'HTTP requests by method, route and status.',
        'counter',
        reset,
        () =>
          all().flatMap((s) =>
            [...s.byStatus].map(([status, value]) => ({
              labels: { method: s.method, route: s.route, status: String(status) },
              value,
            })),
          ),
      ),
    );
    const name = 'gatehouse_http_request_duration_seconds';
    registry.registerMetric(
      scraped(name, 'HTTP request duration by method and route.', 'histogram', reset, () =>
        all().flatMap((s) => {
          const labels = { method: s.method, route: s.route };
          let cumulative = 0;
          const buckets = DURATION_BUCKETS.map((le, i) => {
            cumulative += s.buckets[i]!;
            return { metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative };
          });
          return [
            ...buckets,
            { metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: s.count },
            { metricName: `${name}_sum`, labels, value: s.sum },
            { metricName: `${name}_count`, labels, value: s.count },
          ];
        }),
      ),
    );
  }
}

/** A metric prom-client's registry lists and formats, its values read at scrape time. */
function scraped(
  name: string,
  help: string,
  type: 'counter' | 'histogram',
  reset: () => void,
  values: () => { metricName?: string; labels: Record<string, string | number>; value: number }[],
): Parameters<Registry['registerMetric']>[0] {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset,
  } as unknown as Parameters<Registry['registerMetric']>[0];
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
