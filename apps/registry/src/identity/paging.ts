/** Pagination shared by every identity listing (and the admin API above it). */
export interface Page {
  limit: number;
  offset: number;
}

export interface Paged<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** The largest page a caller may ask for: keeps one admin request from reading a whole table. */
export const MAX_PAGE = 500;

/** Services take pages from controllers that validate, but a bad page must never reach SQL. */
export function clampPage(page: Page): Page {
  const limit = Number.isFinite(page.limit) ? Math.min(Math.max(Math.trunc(page.limit), 1), MAX_PAGE) : 50;
  const offset = Number.isFinite(page.offset) ? Math.max(Math.trunc(page.offset), 0) : 0;
  return { limit, offset };
}
