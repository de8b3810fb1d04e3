import { AppError } from '../../src/http/errors.ts';

/**
 * What `p` rejects with when it is a `kind` (by default AppError: a service's 4xx); fails if it
 * resolves or rejects with anything else.
 */
export async function rejection<E = AppError>(
  p: Promise<unknown>,
  kind: abstract new (...args: never[]) => E = AppError as unknown as abstract new (
    ...args: never[]
  ) => E,
): Promise<E> {
  try {
    await p;
  } catch (err) {
    if (err instanceof kind) return err;
    throw err;
  }
  throw new Error(`expected a rejection with ${kind.name}`);
}
