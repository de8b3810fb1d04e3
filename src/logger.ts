import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs. Anything that could carry a secret is redacted by path, as a second line of defence:
 * code never logs keys, tokens or passwords on purpose.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'res.headers["set-cookie"]',
          '*.password',
          '*.client_secret',
          '*.refresh_token',
          '*.access_token',
          '*.secret',
          '*.key',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
