import type { Collection, CollectionSpec, Storage } from '../storage/index.ts';
import { emailKey } from './email.ts';
import type { User } from './model.ts';

export const USERS: CollectionSpec = {
  name: 'users',
  // Emails are unique case-insensitively: the index is on the lower-cased form.
  indexes: [{ fields: ['emailLower'], unique: true }],
};

type UserChanges = Partial<Omit<User, 'id' | 'createdAt'>>;

/** Users on the storage port. Inserting a taken email throws the port's DuplicateKeyError. */
export class UserRepository {
  private readonly users: Collection<User>;

  constructor(storage: Storage) {
    this.users = storage.collection<User>(USERS);
  }

  insert(user: User): Promise<void> {
    return this.users.insert(user);
  }

  get(id: string): Promise<User | null> {
    return this.users.get(id);
  }

  findByEmail(email: string): Promise<User | null> {
    return this.users.findOne({ emailLower: emailKey(email) });
  }

  async getMany(ids: readonly string[]): Promise<User[]> {
    if (!ids.length) return [];
    return this.users.find({ id: { $in: [...ids] } });
  }

  /** Changes fields of one user (`email` also moves `emailLower`); null when there is no such user. */
  update(id: string, set: UserChanges, unset: (keyof UserChanges & string)[] = []): Promise<User | null> {
    const changes: UserChanges = { ...set };
    if (set.email !== undefined) changes.emailLower = emailKey(set.email);
    return this.users.update({ id }, { set: changes, unset });
  }

  count(): Promise<number> {
    return this.users.count({});
  }
}
