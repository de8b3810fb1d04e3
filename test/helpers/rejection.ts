import { AppError } from '../../src/http/errors.ts';

/** The AppError `p` rejects with (a service's 4xx); fails if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
