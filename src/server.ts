import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import type { Container } from './container.ts';
import { providerLane } from './http/provider-lane.ts';
import { verifyFastLane } from './http/routes/verify.ts';

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to the timeout), then closes the store. */
  close(): Promise<void>;
}

export async function listen(
  c: Container,
  host = c.config.host,
  port = c.config.port,
): Promise<RunningServer> {
  const app = createApp(c);
  // Key verification, the resource servers' hot path, is answered ahead of Koa (routes/verify.ts);
  // the provider's endpoints by the provider's own app (provider-lane.ts); the rest by ours.
  const server = createServer(verifyFastLane(c, providerLane(c, app.callback())));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${shownHost}:${bound}`,
    close() {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timeout = new Promise<void>((resolve) =>
          setTimeout(resolve, c.config.shutdownTimeoutMs).unref(),
        );
        await Promise.race([drained, timeout]);
        server.closeAllConnections();
        await c.close();
      })();
      return closing;
    },
  };
}
