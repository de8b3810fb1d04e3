import { benchSeconds, load, report, startServer } from './lib.ts';

/** Baseline: GET /api/health and GET /jwks on the embedded store, loopback, 16 connections. */
export default async function baseline(): Promise<void> {
  const server = await startServer();
  try {
    for (const path of ['/api/health', '/jwks']) {
      await load({ url: `${server.url}${path}`, duration: 1 }); // warm-up
      const r = await load({ url: `${server.url}${path}`, duration: benchSeconds });
      const conditions = {
        path,
        connections: 16,
        seconds: benchSeconds,
        store: 'embedded',
        errors: r.errors,
        non2xx: r.non2xx,
      };
      report(`GET ${path} throughput`, r.rps, 'req/s', conditions);
      report(`GET ${path} p99 latency`, r.p99, 'ms', conditions);
    }
  } finally {
    await server.stop();
  }
}
