import { ExpiringStore } from './expiring-store';

describe('ExpiringStore', () => {
  let now = 0;
  const store = () => new ExpiringStore<string>(2, () => now);
  beforeEach(() => (now = 1000));

  it('forgets entries at their deadline', () => {
    const s = store();
    s.put('a', 'A', 100);
    now += 99;
    expect(s.get('a')).toBe('A');
    now += 1;
    expect(s.get('a')).toBeUndefined();
  });

  it('take() gives an entry out once', () => {
    const s = store();
    s.put('a', 'A', 100);
    expect(s.take('a')).toBe('A');
    expect(s.take('a')).toBeUndefined();
  });

  it('refuses new entries when full of live ones, accepts after expiry', () => {
    const s = store();
    expect(s.put('a', 'A', 100)).toBe(true);
    expect(s.put('b', 'B', 200)).toBe(true);
    expect(s.put('c', 'C', 100)).toBe(false);
    now += 150;
    expect(s.put('c', 'C', 100)).toBe(true);
    expect(s.size).toBe(2);
  });

  it('sweep drops expired and rejected entries and returns them', () => {
    const s = store();
    s.put('a', 'A', 10);
    s.put('b', 'B', 100);
    now += 20;
    expect(s.sweep()).toEqual(['A']);
    expect(s.sweep((v) => v !== 'B')).toEqual(['B']);
    expect(s.size).toBe(0);
  });
});
