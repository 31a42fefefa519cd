/**
 * PostgreSQL conditions that identity services turn into error kinds. TypeORM
 * copies the driver's fields (code, constraint) onto its QueryFailedError.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return !!e && e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from URLs: a malformed one is "not found", not a uuid cast error (500) in SQL. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
