import { z } from 'zod';

/**
 * An email address as Gatehouse accepts it: the HTML5 form syntax (what browsers accept in
 * `<input type=email>`), which also admits single-label domains such as the bootstrap
 * `admin@localhost`; at most 254 characters (RFC 5321 path limit). Surrounding spaces are trimmed.
 * Case is kept for display; uniqueness and lookups use `emailKey` (case-insensitive).
 */
export const emailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email({ pattern: z.regexes.html5Email, error: 'expected an email address' }));

/** The case-insensitive form that the unique `emailLower` index holds. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}
