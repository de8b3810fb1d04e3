import type { Config } from '../config/index.ts';
import { AppError } from '../http/errors.ts';
import { DuplicateKeyError, type Storage } from '../storage/index.ts';
import type { Workspace } from '../workspaces/model.ts';
import type { WorkspaceService } from '../workspaces/service.ts';
import type { User } from './model.ts';
import { generatePassword } from './password.ts';
import type { AccountService } from './service.ts';

export interface Bootstrapped {
  workspace: Workspace;
  owner: User;
  /** Set only when this process generated the owner's password: print it once, never log it. */
  generatedPassword?: string;
  /** The owner account existed before (e.g. made with the CLI); its password was left alone. */
  existingUser: boolean;
}

export const DEFAULT_WORKSPACE = { name: 'Default', slug: 'default' };

/**
 * The operator's workspace (its owners manage signing keys), recorded by id when bootstrap creates
 * it: never found by slug, which any workspace may take once the operator renames theirs.
 */
interface OperatorDoc {
  id: 'operator';
  workspaceId: string;
  recordedAt: Date;
}
const INSTALLATION = { name: 'gatehouse_installation' } as const;

/** Records the operator workspace; the first record stands (racing processes agree on it). */
export async function recordOperatorWorkspace(storage: Storage, workspaceId: string): Promise<string> {
  const docs = storage.collection<OperatorDoc>(INSTALLATION);
  try {
    await docs.insert({ id: 'operator', workspaceId, recordedAt: new Date() });
    return workspaceId;
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
    return (await docs.get('operator'))!.workspaceId;
  }
}

/**
 * The operator workspace's id. A store bootstrapped before the id was recorded has none: its
 * oldest workspace is the operator's (bootstrap runs only on a store without workspaces, and
 * workspaces are never deleted), and is recorded on first use, so it cannot change afterwards.
 * Null only on a store without any workspace.
 */
export async function operatorWorkspaceId(c: {
  storage: Storage;
  workspaces: Pick<WorkspaceService, 'list'>;
}): Promise<string | null> {
  const doc = await c.storage.collection<OperatorDoc>(INSTALLATION).get('operator');
  if (doc) return doc.workspaceId;
  const [oldest] = await c.workspaces.list(1);
  return oldest ? recordOperatorWorkspace(c.storage, oldest.id) : null;
}

/**
 * On a store without any workspace: workspace "Default" (slug `default`) and its owner,
 * recorded by id as the operator's workspace (operatorWorkspaceId),
 * BOOTSTRAP_ADMIN_EMAIL (admin@localhost) with BOOTSTRAP_ADMIN_PASSWORD or a generated password.
 * Null when there is a workspace already. Processes starting together on one empty store race on
 * the unique email and slug: one creates each, the others adopt them.
 */
export async function bootstrap(c: {
  config: Pick<Config, 'bootstrapAdmin'>;
  storage: Storage;
  accounts: AccountService;
  workspaces: WorkspaceService;
}): Promise<Bootstrapped | null> {
  if ((await c.workspaces.count()) > 0) return null;
  const { email, password } = c.config.bootstrapAdmin;
  let owner = await c.accounts.findByEmail(email);
  const existingUser = owner !== null;
  let generatedPassword: string | undefined;
  if (!owner) {
    const chosen = password ?? generatePassword();
    try {
      owner = await c.accounts.createUser({ email, password: chosen, name: 'Administrator' });
      if (!password) generatedPassword = chosen;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'email_taken')) throw err;
      owner = (await c.accounts.findByEmail(email))!;
    }
  }
  try {
    const workspace = await c.workspaces.create(DEFAULT_WORKSPACE, owner.id);
    await recordOperatorWorkspace(c.storage, workspace.id);
    return { workspace, owner, generatedPassword, existingUser };
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'slug_taken')) throw err;
    // Another process made the workspace (with this same owner: the email is unique). If this
    // one generated the password, it still has to be shown, or nobody could ever sign in.
    const workspace = await c.workspaces.getBySlug(DEFAULT_WORKSPACE.slug);
    return generatedPassword && workspace ? { workspace, owner, generatedPassword, existingUser } : null;
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The lines printed on stdout (never logged): what was created and how to sign in. */
export function bootstrapBanner(b: Bootstrapped, issuer: string): string[] {
  const body = JSON.stringify({ email: b.owner.email, password: b.generatedPassword ?? '<your password>' });
  const lines = [
    `  bootstrap: created workspace "${b.workspace.name}" (slug ${b.workspace.slug}) owned by ${b.owner.email}`,
  ];
  if (b.generatedPassword) {
    lines.push(
      `  password:  ${b.generatedPassword}`,
      '             (shown this once: store it now, or set BOOTSTRAP_ADMIN_PASSWORD before the first start)',
    );
  } else if (b.existingUser) {
    lines.push('  password:  unchanged (the account already existed)');
  } else {
    lines.push('  password:  BOOTSTRAP_ADMIN_PASSWORD');
  }
  lines.push(
    `  sign in:   curl -X POST ${issuer}/api/v1/auth/login -H 'content-type: application/json' -d ${shellQuote(body)}`,
  );
  return lines;
}
