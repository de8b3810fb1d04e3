import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError, checkField, httpErrors } from '../http/errors.ts';
import type { Metrics } from '../metrics.ts';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/index.ts';
import { emailKey, emailSchema } from './email.ts';
import type { User } from './model.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHashCost, PasswordHasher, passwordProblem } from './password.ts';
import { UserRepository } from './repository.ts';

export interface NewUser {
  email: string;
  password?: string;
  name?: string;
  emailVerified?: boolean;
  /** See User.managedBy: set when a workspace admin creates the account with a password. */
  managedBy?: string;
}

export const userNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

export const accountErrors = {
  emailTaken: () => new AppError(409, 'email_taken', 'An account with this email address already exists.'),
  managedElsewhere: () =>
    new AppError(
      409,
      'account_managed_elsewhere',
      'This email belongs to an account whose password another workspace set; it cannot be added here. ' +
        'Ask the person to use another email address, or an operator to hand the account over.',
    ),
  invalidPassword: (problem: string) =>
    new AppError(400, 'invalid_password', `password: ${problem}`, { field: 'password' }),
  noSuchUser: () => httpErrors.notFound('user'),
};

function newUserId(): string {
  return `usr_${randomBytes(12).toString('hex')}`;
}

/** Users and their passwords. Every path that creates or changes a password applies the policy. */
export class AccountService {
  private readonly users: UserRepository;
  readonly hasher: PasswordHasher;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
    cost?: PasswordHashCost,
    metrics?: Pick<Metrics, 'counter'>,
  ) {
    this.users = new UserRepository(storage);
    // Every sign-in attempt costs exactly one argon2 verification, whether or not the account
    // exists (see `authenticate`); this counter lets an operator (and the tests) see that.
    const verifications = metrics?.counter(
      'gatehouse_password_verifications_total',
      'argon2id password verifications: of a stored hash (account) or of the dummy for unknown accounts (dummy).',
      ['kind'],
    );
    this.hasher = new PasswordHasher(cost, (kind) => verifications?.inc({ kind }));
  }

  /** 400 on a bad email, name or password; 409 `email_taken` when the email exists in any case. */
  async createUser(input: NewUser): Promise<User> {
    const email = checkField(emailSchema, input.email, 'email');
    const name = input.name === undefined ? undefined : checkField(userNameSchema, input.name, 'name');
    let passwordHash: string | undefined;
    if (input.password !== undefined) {
      const problem = passwordProblem(input.password);
      if (problem) throw accountErrors.invalidPassword(problem);
      // Fail fast on a taken email before spending a hash on it (the unique index still decides).
      if (await this.users.findByEmail(email)) throw accountErrors.emailTaken();
      passwordHash = await this.hasher.hash(input.password);
    }
    const now = this.clock.now();
    const user: User = {
      id: newUserId(),
      email,
      emailLower: emailKey(email),
      emailVerified: input.emailVerified ?? false,
      ...(name ? { name } : {}),
      ...(passwordHash ? { passwordHash } : {}),
      ...(input.managedBy ? { managedBy: input.managedBy } : {}),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.users.insert(user);
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw accountErrors.emailTaken();
      throw err;
    }
    return user;
  }

  getUser(id: string): Promise<User | null> {
    return this.users.get(id);
  }

  getUsers(ids: readonly string[]): Promise<User[]> {
    return this.users.getMany(ids);
  }

  /** Case-insensitive. */
  findByEmail(email: string): Promise<User | null> {
    return this.users.findByEmail(email);
  }

  /**
   * The user whose password this is, or null. Unknown emails, accounts without a password and
   * disabled accounts cost one argon2 verification too, so timing does not reveal which exist.
   * A hash made at an older cost is replaced by one at the configured cost.
   */
  async authenticate(email: string, password: string): Promise<User | null> {
    if ([...password].length > PASSWORD_MAX_LENGTH) {
      await this.hasher.verifyNothing(password.slice(0, PASSWORD_MAX_LENGTH));
      return null;
    }
    const user = emailSchema.safeParse(email).success ? await this.users.findByEmail(email) : null;
    if (!user?.passwordHash) return this.hasher.verifyNothing(password).then(() => null);
    const ok = await this.hasher.verify(user.passwordHash, password);
    if (!ok || user.disabled) return null;
    if (this.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await this.hasher.hash(password);
      await this.users.update(user.id, { passwordHash, updatedAt: this.clock.now() });
    }
    return user;
  }

  /** A disabled account cannot sign in or refresh; 404 when there is no such user. */
  async setDisabled(userId: string, disabled: boolean): Promise<User> {
    const updated = disabled
      ? await this.users.update(userId, { disabled: true, updatedAt: this.clock.now() })
      : await this.users.update(userId, { updatedAt: this.clock.now() }, ['disabled']);
    if (!updated) throw accountErrors.noSuchUser();
    return updated;
  }

  /** 400 `invalid_password` when the policy refuses it; 404 when there is no such user. */
  async setPassword(userId: string, password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw accountErrors.invalidPassword(problem);
    const passwordHash = await this.hasher.hash(password);
    const updated = await this.users.update(userId, { passwordHash, updatedAt: this.clock.now() });
    if (!updated) throw accountErrors.noSuchUser();
  }
}
