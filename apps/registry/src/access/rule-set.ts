import { matchPrefixPattern } from '../config/patterns';
import { compareSpecificity, isLiteralElement, Rule, specificity } from './rule';

/** The rules that bear on one module path. */
export interface PathRules {
  /** Every rule whose pattern matches the path, most specific first. */
  readonly matching: readonly Rule[];
  /** The rules sharing the most specific matching pattern: they decide together. */
  readonly deciding: readonly Rule[];
  /**
   * Rules whose pattern is longer than the path and whose leading elements
   * match it: the path is a proper prefix of their subtree. Used only to
   * answer the go command's prefix probes with 404 instead of 403.
   */
  readonly below: readonly Rule[];
}

interface Entry {
  readonly rule: Rule;
  readonly elems: readonly string[];
  /** Position in specificity order, to keep merged candidate lists sorted. */
  readonly order: number;
}

const NONE: readonly Rule[] = Object.freeze([]);

/**
 * An immutable snapshot of all access rules, indexed for the hot path: rules
 * are bucketed by a literal first element (the host), and the answer for a
 * path is memoised, because the go command asks for the same path several
 * times in a row (list, info, mod, zip) and the patterns compile to regular
 * expressions on each match. A new snapshot replaces this one on any change,
 * which also drops the memo.
 */
export class RuleSet {
  /** Most specific first. */
  readonly rules: readonly Rule[];
  private readonly byFirst = new Map<string, Entry[]>();
  private readonly wildFirst: Entry[] = [];
  private readonly memo = new Map<string, PathRules>();

  constructor(
    rules: readonly Rule[],
    private readonly memoLimit = 20_000,
  ) {
    const specs = new Map(rules.map((r) => [r.pattern, specificity(r.pattern)]));
    this.rules = Object.freeze(
      [...rules].sort((a, b) => compareSpecificity(a.pattern, specs.get(a.pattern)!, b.pattern, specs.get(b.pattern)!) || cmp(a.teamName, b.teamName)),
    );
    this.rules.forEach((rule, order) => {
      const elems = rule.pattern.split('/');
      const entry = { rule, elems, order };
      if (!isLiteralElement(elems[0])) this.wildFirst.push(entry);
      else {
        const bucket = this.byFirst.get(elems[0]);
        if (bucket) bucket.push(entry);
        else this.byFirst.set(elems[0], [entry]);
      }
    });
  }

  get size(): number {
    return this.rules.length;
  }

  lookup(path: string): PathRules {
    const hit = this.memo.get(path);
    if (hit) return hit;
    const found = this.compute(path);
    // Bounded: a flood of distinct paths only costs recomputation.
    if (this.memo.size >= this.memoLimit) this.memo.clear();
    this.memo.set(path, found);
    return found;
  }

  private compute(path: string): PathRules {
    const pathElems = path.split('/');
    const candidates = this.candidates(pathElems[0]);
    if (candidates.length === 0) return { matching: NONE, deciding: NONE, below: NONE };
    const matching: Rule[] = [];
    const below: Rule[] = [];
    for (const e of candidates) {
      if (e.elems.length <= pathElems.length) {
        if (matchPrefixPattern(e.rule.pattern, path)) matching.push(e.rule);
      } else if (matchPrefixPattern(e.elems.slice(0, pathElems.length).join('/'), path)) {
        below.push(e.rule);
      }
    }
    const top = matching.length > 0 ? matching[0].pattern : null;
    return {
      matching: Object.freeze(matching),
      deciding: top === null ? NONE : Object.freeze(matching.filter((r) => r.pattern === top)),
      below: Object.freeze(below),
    };
  }

  /** Rules that can match a path with this first element, in specificity order. */
  private candidates(first: string): readonly Entry[] {
    const bucket = this.byFirst.get(first);
    if (!bucket) return this.wildFirst;
    if (this.wildFirst.length === 0) return bucket;
    return [...bucket, ...this.wildFirst].sort((a, b) => a.order - b.order);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
