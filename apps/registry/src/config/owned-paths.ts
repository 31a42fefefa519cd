import { matchesAnyPattern } from './patterns';

/**
 * Module paths ModGate owns (MODGATE_PRIVATE, GOPRIVATE syntax). They are
 * never requested from an upstream or a checksum database, in any mode: the
 * dependency-confusion guard.
 */
export class OwnedPaths {
  constructor(readonly patterns: readonly string[]) {}

  owns(path: string): boolean {
    return this.patterns.length > 0 && matchesAnyPattern(this.patterns, path);
  }

  /** The pattern to put in GONOSUMDB for this path (the first that matches). */
  patternFor(path: string): string | undefined {
    return this.patterns.find((p) => matchesAnyPattern([p], path));
  }
}
