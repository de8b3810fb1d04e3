import type { Command } from 'commander';
import { generatePassword } from '../accounts/password.ts';
import type { Container } from '../container.ts';

export type WithContainer = <T>(fn: (c: Container) => Promise<T>) => Promise<T>;

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** `gatehouse workspaces create|list`. */
export function workspaceCommands(program: Command, withContainer: WithContainer): void {
  const workspaces = program.command('workspaces').description('workspaces (tenants)');

  workspaces
    .command('create')
    .description('create a workspace; an unknown owner email gets a new account with a generated password')
    .requiredOption('--name <name>', 'display name')
    .option('--slug <slug>', 'URL-safe unique name (default: from the name)')
    .requiredOption('--owner-email <email>', 'the first owner')
    .action(async (opts: { name: string; slug?: string; ownerEmail: string }) => {
      await withContainer(async (c) => {
        let owner = await c.accounts.findByEmail(opts.ownerEmail);
        let password: string | undefined;
        if (!owner) {
          password = generatePassword();
          owner = await c.accounts.createUser({ email: opts.ownerEmail, password });
        }
        const ws = await c.workspaces.create({ name: opts.name, slug: opts.slug }, owner.id);
        print(`created workspace "${ws.name}" (slug ${ws.slug}, id ${ws.id}) owned by ${owner.email}`);
        if (password) print(`created account ${owner.email} (${owner.id}) with password: ${password}`);
      });
    });

  workspaces
    .command('list')
    .description('list every workspace')
    .action(async () => {
      await withContainer(async (c) => {
        for (const ws of await c.workspaces.list()) print(`${ws.id}  ${ws.slug}  ${ws.name}`);
      });
    });
}
