import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** One registry per app instance (no globals), so several apps can live in one test process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(collectDefaults = true) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  /** Per label set, once: prom-client would otherwise hash the labels on every request. */
  private readonly series = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const id = `${method} ${route} ${status}`;
    let s = this.series.get(id);
    if (!s) {
      s = {
        count: this.requests.labels({ method, route, status: String(status) }),
        time: this.duration.labels({ method, route }),
      };
      this.series.set(id, s);
    }
    s.count.inc();
    s.time.observe(seconds);
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
