import type { Command } from 'commander';
import { type ClientView, serializeClient } from '../clients/model.ts';
import { print, type WithContainer } from './workspaces.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

function describeClient(client: ClientView): string[] {
  const j = serializeClient(client);
  return [
    `client_id:     ${client.id}`,
    `name:          ${client.name}`,
    `type:          ${client.type}`,
    `workspace:     ${client.workspaceId}`,
    `grant_types:   ${client.grantTypes.join(' ')}`,
    `redirect_uris: ${client.redirectUris.join(' ') || '-'}`,
    `auth method:   ${String(j.token_endpoint_auth_method)}`,
  ];
}

/**
 * `gatehouse clients create|list`: OAuth clients of a workspace, over the same service as the
 * API (so the same validation). A confidential client's secret is printed once, never again.
 */
export function clientCommands(program: Command, withContainer: WithContainer): void {
  const clients = program.command('clients').description('OAuth clients of workspaces');

  clients
    .command('create')
    .description('register an OAuth client in a workspace (confidential unless --public)')
    .requiredOption('--workspace <id>', 'the workspace (id or slug)')
    .requiredOption('--name <name>', 'the name users see on the consent page')
    .option('--redirect-uri <uri>', 'a redirect URI (repeatable): https, or http on loopback', collect, [])
    .option(
      '--post-logout-redirect-uri <uri>',
      'where RP-initiated logout may return (repeatable)',
      collect,
      [],
    )
    .option('--public', 'a public client (native or browser app): no secret, PKCE required')
    .option('--client-credentials', 'a machine client: client_credentials only, no redirect URIs')
    .option('--auth-method <method>', 'client_secret_basic (default) or client_secret_post')
    .action(
      async (opts: {
        workspace: string;
        name: string;
        redirectUri: string[];
        postLogoutRedirectUri: string[];
        public?: boolean;
        clientCredentials?: boolean;
        authMethod?: 'client_secret_basic' | 'client_secret_post';
      }) => {
        await withContainer(async (c) => {
          const ws = await c.workspaces.resolve(opts.workspace);
          if (!ws) throw new Error(`no workspace "${opts.workspace}"`);
          const { client, secret } = await c.clients.create(ws.id, {
            name: opts.name,
            public: opts.public ?? false,
            redirectUris: opts.redirectUri,
            postLogoutRedirectUris: opts.postLogoutRedirectUri,
            ...(opts.clientCredentials ? { grantTypes: ['client_credentials'] } : {}),
            ...(opts.authMethod ? { authMethod: opts.authMethod } : {}),
          });
          for (const line of describeClient(client)) print(line);
          if (secret) print(`client_secret: ${secret}   (shown once: store it now)`);
        });
      },
    );

  clients
    .command('list')
    .description("a workspace's OAuth clients")
    .requiredOption('--workspace <id>', 'the workspace (id or slug)')
    .action(async (opts: { workspace: string }) => {
      await withContainer(async (c) => {
        const ws = await c.workspaces.resolve(opts.workspace);
        if (!ws) throw new Error(`no workspace "${opts.workspace}"`);
        for (const client of await c.clients.list(ws.id)) {
          print(`${client.id}  ${client.type.padEnd(12)}  ${client.name}`);
        }
      });
    });
}
