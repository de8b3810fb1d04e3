import { type Command, InvalidArgumentError } from 'commander';
import { ROLES, type Role } from '../accounts/model.ts';
import { generatePassword } from '../accounts/password.ts';
import { print, type WithContainer } from './workspaces.ts';

interface PasswordOptions {
  password?: string;
  generatePassword?: boolean;
}

function role(value: string): Role {
  if (!(ROLES as string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return value as Role;
}

/** The password the options ask for: given, generated (and so printed), or none. */
function chosenPassword(opts: PasswordOptions): { password?: string; generated: boolean } {
  if (opts.password !== undefined && opts.generatePassword) {
    throw new Error('give either --password or --generate-password, not both');
  }
  if (opts.generatePassword) return { password: generatePassword(), generated: true };
  return { password: opts.password, generated: false };
}

/** `gatehouse users create|disable|enable|set-password`. */
export function userCommands(program: Command, withContainer: WithContainer): void {
  const users = program.command('users').description('user accounts');

  users
    .command('create')
    .description('create a user (without a password, the account signs in only through a federated IdP)')
    .requiredOption('--email <email>', 'email address (unique, case-insensitive)')
    .option('--name <name>', 'display name')
    .option(
      '--password <password>',
      'initial password (visible in the process list: prefer --generate-password)',
    )
    .option('--generate-password', 'generate a password and print it once')
    .option('--workspace <slug>', 'add the user to this workspace (slug or id)')
    .option('--role <role>', `role in --workspace: ${ROLES.join(', ')}`, role, 'member' as Role)
    .action(
      async (opts: PasswordOptions & { email: string; name?: string; workspace?: string; role: Role }) => {
        const { password, generated } = chosenPassword(opts);
        await withContainer(async (c) => {
          const ws = opts.workspace ? await c.workspaces.resolve(opts.workspace) : null;
          if (opts.workspace && !ws) throw new Error(`no workspace "${opts.workspace}"`);
          const user = await c.accounts.createUser({ email: opts.email, name: opts.name, password });
          print(`created user ${user.email} (${user.id})`);
          if (generated) print(`password: ${password}`);
          if (ws) {
            await c.workspaces.addMember(ws.id, user.id, opts.role);
            print(`added to workspace ${ws.slug} as ${opts.role}`);
          }
        });
      },
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(name)
      .description(
        disabled
          ? 'refuse sign-in and refresh for a user (tokens already issued stop at their next refresh)'
          : 'let a disabled user sign in again',
      )
      .requiredOption('--email <email>', 'the account')
      .action(async (opts: { email: string }) => {
        await withContainer(async (c) => {
          const user = await c.accounts.findByEmail(opts.email);
          if (!user) throw new Error(`no user with email ${opts.email}`);
          await c.accounts.setDisabled(user.id, disabled);
          print(`${disabled ? 'disabled' : 'enabled'} ${user.email}`);
        });
      });
  }

  users
    .command('set-password')
    .description("set a user's password (e.g. a lost bootstrap password)")
    .requiredOption('--email <email>', 'the account')
    .option(
      '--password <password>',
      'the new password (visible in the process list: prefer --generate-password)',
    )
    .option('--generate-password', 'generate a password and print it once')
    .action(async (opts: PasswordOptions & { email: string }) => {
      const { password, generated } = chosenPassword(opts);
      if (!password) throw new Error('give --password or --generate-password');
      await withContainer(async (c) => {
        const user = await c.accounts.findByEmail(opts.email);
        if (!user) throw new Error(`no user with email ${opts.email}`);
        await c.accounts.setPassword(user.id, password);
        print(`password set for ${user.email}${generated ? `: ${password}` : ''}`);
      });
    });
}
