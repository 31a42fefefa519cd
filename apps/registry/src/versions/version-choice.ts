import { compare, isPseudoVersion, isRetracted, prerelease, type Retraction } from '@modgate/gomod';

/** `list` content: tagged versions only (no pseudo-versions), ascending, unique. */
export function listable(versions: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of versions) if (!isPseudoVersion(v)) set.add(v);
  return [...set].sort(compare);
}

/** A stored version as far as choosing one goes. */
export interface Candidate {
  readonly version: string;
  readonly retract: readonly Retraction[] | null;
  readonly deprecated?: string | null;
}

export interface ModuleStatus {
  /** What `@latest` answers: see latestOf. */
  readonly latest: string | null;
  /** The version whose go.mod speaks for the module (retractions, deprecation), as the go command picks it. */
  readonly authority: string | null;
  readonly deprecated: string | null;
  /** Retracted versions → rationale ('' when the directive has none). */
  readonly retracted: ReadonlyMap<string, string>;
}

/**
 * Retractions and deprecation as the go command applies them: read from the
 * go.mod of the version `latest` picks before retractions (the highest
 * release, else the highest pre-release, else the newest pseudo-version),
 * even when that version retracts itself. `@latest` then prefers the
 * highest non-retracted release, then pre-release, then pseudo-version; if
 * every version is retracted it answers the authority (something to show
 * rather than nothing; the go command reports the retraction).
 */
export function moduleStatus(stored: readonly Candidate[]): ModuleStatus {
  const authority = pick(stored.map((c) => c.version));
  const of = authority ? stored.find((c) => c.version === authority) : undefined;
  const retracted = new Map<string, string>();
  for (const c of stored) {
    const r = isRetracted(c.version, of?.retract ?? []);
    if (r.retracted) retracted.set(c.version, r.rationale);
  }
  const latest = pick(stored.map((c) => c.version).filter((v) => !retracted.has(v))) ?? authority;
  return { latest, authority, deprecated: of?.deprecated ?? null, retracted };
}

/** What `@latest` answers from stored versions; see moduleStatus. */
export function latestOf(stored: readonly Candidate[]): string | null {
  return moduleStatus(stored).latest;
}

/** The highest release, else the highest pre-release, else the newest pseudo-version. */
function pick(versions: readonly string[]): string | null {
  const tagged = listable(versions);
  const releases = tagged.filter((v) => prerelease(v) === '');
  if (releases.length) return releases[releases.length - 1];
  if (tagged.length) return tagged[tagged.length - 1];
  const pseudo = versions.filter(isPseudoVersion).sort(compare);
  return pseudo.length ? pseudo[pseudo.length - 1] : null;
}
