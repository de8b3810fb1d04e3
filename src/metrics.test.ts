import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.ts';

const OBSERVED: [string, string, number, number][] = [
  ['GET', '/api/health', 200, 0.0004],
  ['GET', '/api/health', 200, 0.003],
  ['POST', '/token', 200, 0.012],
  ['POST', '/token', 401, 0.0011],
  ['POST', '/token', 200, 3.5],
  ['POST', '/api/v1/keys/verify', 400, 0.001],
];

/** What prom-client's own Counter and Histogram print for the same observations. */
async function promClientReference(): Promise<string> {
  const registry = new Registry();
  const counter = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const histogram = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of OBSERVED) {
    counter.inc({ method, route, status: String(status) });
    histogram.observe({ method, route }, seconds);
  }
  return registry.metrics();
}

const sortedLines = (text: string) => text.split('\n').filter(Boolean).sort();

describe('Metrics', () => {
  it("exposes request counts and durations exactly as prom-client's counter and histogram would", async () => {
    const m = new Metrics(false);
    for (const [method, route, status, seconds] of OBSERVED) m.observeRequest(method, route, status, seconds);
    const text = await m.registry.metrics();
    expect(sortedLines(text)).toEqual(sortedLines(await promClientReference()));
    expect(text).toContain('gatehouse_http_requests_total{method="POST",route="/token",status="200"} 2');
    expect(text).toContain(
      'gatehouse_http_request_duration_seconds_bucket{le="0.0025",method="POST",route="/token"} 1',
    );
    expect(text).toContain('gatehouse_http_request_duration_seconds_count{method="POST",route="/token"} 3');
  });

  it('starts from zero after a reset, and keeps other metrics', async () => {
    const m = new Metrics(false);
    const c = m.counter('gatehouse_things_total', 'Things.', ['kind']);
    c.inc({ kind: 'a' });
    m.observeRequest('GET', '/jwks', 200, 0.002);
    m.registry.resetMetrics();
    m.observeRequest('GET', '/jwks', 200, 0.002);
    const text = await m.registry.metrics();
    expect(text).toContain('gatehouse_http_requests_total{method="GET",route="/jwks",status="200"} 1');
    expect(text).toContain('# TYPE gatehouse_things_total counter');
    expect((await m.registry.getMetricsAsJSON()).map((x) => x.name)).toEqual(
      expect.arrayContaining(['gatehouse_http_requests_total', 'gatehouse_http_request_duration_seconds']),
    );
  });
});
