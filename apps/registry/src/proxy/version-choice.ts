import { compare, isPseudoVersion, prerelease } from '@modgate/gomod';

/** `list` content: tagged versions only (no pseudo-versions), ascending, unique. */
export function listable(versions: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of versions) if (!isPseudoVersion(v)) set.add(v);
  return [...set].sort(compare);
}

/**
 * What `@latest` answers from stored versions, as the protocol asks: the
 * highest release, else the highest pre-release, else the newest pseudo-version.
 */
export function latestOf(versions: readonly string[]): string | null {
  const tagged = listable(versions);
  const releases = tagged.filter((v) => prerelease(v) === '');
  if (releases.length) return releases[releases.length - 1];
  if (tagged.length) return tagged[tagged.length - 1];
  const pseudo = versions.filter(isPseudoVersion).sort(compare);
  return pseudo.length ? pseudo[pseudo.length - 1] : null;
}
