import type { Permission } from '../auth/principal';
import { matchPrefixPattern } from '../config/patterns';

/**
 * An access rule: members of `teamId` get up to `permission` on every module
 * path whose leading elements match `pattern` (GOPRIVATE syntax, so a rule
 * covers a whole subtree: `corp.example.com/payments` also grants
 * `corp.example.com/payments/ledger/v2`).
 */
export interface Rule {
  readonly id: string;
  readonly pattern: string;
  readonly teamId: string;
  readonly teamName: string;
  readonly permission: Permission;
}

export const MAX_PATTERN_LENGTH = 500;

/**
 * Why a pattern cannot be a rule, or null when it can. Stricter than
 * MODGATE_PRIVATE parsing: a rule is one glob (a comma would silently make it
 * a list elsewhere), every element non-empty, and every element must compile
 * the way matchPrefixPattern compiles it, so a bad rule fails at creation and
 * never at request time.
 */
export function patternProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'pattern is empty';
  if (pattern.length > MAX_PATTERN_LENGTH) return `pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (/\s/.test(pattern)) return 'pattern contains white space';
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'pattern contains control characters';
  if (pattern.includes(',')) return 'pattern contains a comma: one pattern per rule';
  for (const elem of pattern.split('/')) {
    if (elem === '') return 'pattern has an empty path element (leading, trailing or double slash)';
    if (elem === '.' || elem === '..') return `pattern has a "${elem}" path element`;
    const bad = globProblem(elem);
    if (bad) return `pattern element "${elem}": ${bad}`;
    try {
      matchPrefixPattern(elem, 'x');
    } catch {
      return `pattern element "${elem}" is not a valid glob`;
    }
  }
  return null;
}

/** path.Match's ErrBadPattern cases: an unclosed or empty class, a dangling escape, a reversed range. */
function globProblem(elem: string): string | null {
  for (let i = 0; i < elem.length; i++) {
    const c = elem[i];
    if (c === '\\') {
      if (i + 1 >= elem.length) return 'ends in a lone backslash';
      i++;
    } else if (c === ']') {
      return 'has "]" without "["';
    } else if (c === '[') {
      const end = elem.indexOf(']', i + 1);
      if (end < 0) return 'has "[" without "]"';
      const cls = elem.slice(i + 1, end).replace(/^\^/, '');
      if (cls === '') return 'has an empty character class';
      const range = /(.)-(.)/.exec(cls);
      if (range && range[1] > range[2]) return `has a reversed range ${range[1]}-${range[2]}`;
      i = end;
    }
  }
  return null;
}

/** How specific a pattern is; compared by compareSpecificity. */
export interface Specificity {
  /** Path elements: `a/b/c` beats `a/b`. */
  readonly elements: number;
  /** Elements with `*`, `?` or `[...]`: fewer is more specific. */
  readonly wildcards: number;
  /** Characters matched literally: more is more specific. */
  readonly literal: number;
}

export function specificity(pattern: string): Specificity {
  let wildcards = 0;
  let literal = 0;
  const elems = pattern.split('/');
  for (const elem of elems) {
    let wild = false;
    for (let i = 0; i < elem.length; i++) {
      const c = elem[i];
      if (c === '*' || c === '?') wild = true;
      else if (c === '[') {
        wild = true;
        const end = elem.indexOf(']', i + 1);
        i = end < 0 ? elem.length : end;
      } else {
        if (c === '\\') i++;
        literal++;
      }
    }
    if (wild) wildcards++;
  }
  return { elements: elems.length, wildcards, literal };
}

/**
 * Negative when `a` is more specific than `b`. Equally specific different
 * patterns are ordered by their text (code points), so exactly one pattern
 * decides for any path and the choice never depends on load order.
 */
export function compareSpecificity(a: string, sa: Specificity, b: string, sb: Specificity): number {
  if (sa.elements !== sb.elements) return sb.elements - sa.elements;
  if (sa.wildcards !== sb.wildcards) return sa.wildcards - sb.wildcards;
  if (sa.literal !== sb.literal) return sb.literal - sa.literal;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An element without glob syntax matches exactly its own text (indexable by a Map). */
export function isLiteralElement(elem: string): boolean {
  return !/[*?[\\]/.test(elem);
}
