import { parseGoMod } from '@modgate/gomod';
import { latestOf, listable, moduleStatus, type Candidate } from './version-choice';

const v = (version: string, gomod = ''): Candidate => {
  const parsed = parseGoMod(`module corp.example.com/m\n${gomod}`);
  return { version, retract: parsed.retract, deprecated: parsed.deprecated };
};

describe('listable', () => {
  it('drops pseudo-versions, sorts by semver, dedupes', () => {
    expect(listable(['v1.10.0', 'v1.2.0', 'v0.0.0-20240101000000-abcdefabcdef', 'v1.2.0', 'v1.2.0-rc.1'])).toEqual(['v1.2.0-rc.1', 'v1.2.0', 'v1.10.0']);
  });
});

describe('moduleStatus (retractions as the go command applies them)', () => {
  it('reads retractions from the highest release and skips retracted versions for @latest', () => {
    const s = moduleStatus([v('v1.0.0'), v('v1.1.0'), v('v1.1.1', 'retract v1.1.0 // totals were wrong\n'), v('v1.2.0-rc.1')]);
    expect(s.authority).toBe('v1.1.1');
    expect(s.latest).toBe('v1.1.1');
    expect([...s.retracted]).toEqual([['v1.1.0', 'totals were wrong']]);
  });

  it('a release that retracts itself: @latest is the highest non-retracted release', () => {
    const s = moduleStatus([v('v1.0.0'), v('v1.1.0', 'retract v1.1.0 // published by mistake\n')]);
    expect(s.latest).toBe('v1.0.0');
    expect(s.retracted.get('v1.1.0')).toBe('published by mistake');
  });

  it('ranges, and only the authority go.mod counts', () => {
    const s = moduleStatus([v('v1.0.0', 'retract v1.2.0\n'), v('v1.2.0'), v('v1.3.0'), v('v1.4.0', 'retract [v1.2.0, v1.3.0]\n')]);
    expect([...s.retracted.keys()].sort()).toEqual(['v1.2.0', 'v1.3.0']);
    expect(s.latest).toBe('v1.4.0');
  });

  it('pre-releases only when there is no release; pseudo-versions last', () => {
    expect(latestOf([v('v1.0.0-rc.1'), v('v1.0.0-rc.2')])).toBe('v1.0.0-rc.2');
    expect(latestOf([v('v0.0.0-20240101000000-abcdefabcdef'), v('v0.0.0-20250101000000-abcdefabcdef')])).toBe('v0.0.0-20250101000000-abcdefabcdef');
    expect(latestOf([])).toBeNull();
  });

  it('every version retracted: answers the authority rather than nothing', () => {
    expect(latestOf([v('v1.0.0'), v('v1.1.0', 'retract [v1.0.0, v1.1.0]\n')])).toBe('v1.1.0');
  });

  it('deprecation comes from the authority', () => {
    const s = moduleStatus([v('v1.0.0'), { ...v('v1.1.0'), deprecated: 'use v2' }]);
    expect(s.deprecated).toBe('use v2');
    expect(moduleStatus([{ ...v('v1.0.0'), deprecated: 'old' }, v('v1.1.0')]).deprecated).toBeNull();
  });

  it('versions stored before retractions were recorded count as retracting nothing', () => {
    expect(latestOf([{ version: 'v1.0.0', retract: null }, { version: 'v1.1.0', retract: null }])).toBe('v1.1.0');
  });
});
