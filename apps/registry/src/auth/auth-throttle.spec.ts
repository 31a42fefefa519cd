// The throttle alone, on a fake clock: slowing, lockout per address and per
// login, Go's repeated 4xx counted once, and bounded memory.
import { GoproxyError } from '../common/goproxy-error';
import { AuthThrottle } from './auth-throttle';

function setup(opts: Partial<ConstructorParameters<typeof AuthThrottle>[0]> = {}) {
  const clock = { t: 1_000_000 };
  const throttle = new AuthThrottle({ maxFailures: 5, lockoutSeconds: 60, now: () => clock.t, ...opts });
  return { clock, throttle };
}

function refusal(fn: () => void): GoproxyError {
  try {
    fn();
  } catch (err) {
    return err as GoproxyError;
  }
  throw new Error('expected a 429');
}

describe('AuthThrottle', () => {
  it('answers the first failures at once, then delays more and more', () => {
    const { clock, throttle } = setup({ maxFailures: 100 });
    const delays = [];
    for (let i = 0; i < 8; i++) {
      clock.t += 10;
      delays.push(throttle.failed('10.0.0.1', null, `attempt-${i}`));
    }
    expect(delays).toEqual([0, 0, 0, 250, 500, 1000, 2000, 2000]);
  });

  it('locks an address out after maxFailures with a 429 that says when to retry', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 5; i++) throttle.failed('10.0.0.1', `user${i}`, `f${i}`);
    const err = refusal(() => throttle.check('10.0.0.1', 'someone'));
    expect(err).toBeInstanceOf(GoproxyError);
    expect(err.kind).toBe('too-many-requests');
    expect(err.message).toBe('too many failed logins from 10.0.0.1; try again in 60 s');
    expect(err.headers).toEqual({ 'retry-after': '60' });
    // Other addresses and logins are unaffected.
    expect(() => throttle.check('10.0.0.2', 'user0')).not.toThrow();
    clock.t += 45_500;
    expect(refusal(() => throttle.check('10.0.0.1', null)).headers['retry-after']).toBe('15');
    clock.t += 15_000;
    expect(() => throttle.check('10.0.0.1', null)).not.toThrow();
    // After the lockout the count starts afresh.
    expect(throttle.failed('10.0.0.1', null, 'again')).toBe(0);
  });

  it('locks a login out when guesses come from many addresses', () => {
    const { throttle } = setup();
    for (let i = 0; i < 5; i++) throttle.failed(`10.0.1.${i}`, 'alice', `f${i}`);
    expect(refusal(() => throttle.check('10.0.9.9', 'alice')).message).toBe('too many failed logins for alice; try again in 60 s');
    expect(() => throttle.check('10.0.9.9', 'bob')).not.toThrow();
  });

  it('counts an identical failure within a second once (Go 1.24+ repeats a 4xx)', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 5; i++) {
      throttle.failed('10.0.0.1', 'alice', 'same');
      clock.t += 300; // tries at 0, 0.3, 0.6, 0.9, 1.2 s: only the first and the last count
    }
    expect(() => throttle.check('10.0.0.1', 'alice')).not.toThrow();
    for (let i = 0; i < 3; i++) throttle.failed('10.0.0.1', 'alice', `other-${i}`);
    expect(() => throttle.check('10.0.0.1', 'alice')).toThrow(/from 10\.0\.0\.1/);
  });

  it('a success clears the login but never the address', () => {
    const { throttle } = setup();
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', 'alice', `f${i}`);
    throttle.succeeded('alice');
    throttle.failed('10.0.0.1', 'alice', 'f5');
    expect(refusal(() => throttle.check('10.0.0.1', 'alice')).message).toMatch(/from 10\.0\.0\.1/);
    expect(() => throttle.check('10.0.0.2', 'alice')).not.toThrow();
  });

  it('forgets failures after a quiet stretch as long as a lockout', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', null, `f${i}`);
    clock.t += 61_000;
    throttle.failed('10.0.0.1', null, 'late');
    expect(() => throttle.check('10.0.0.1', null)).not.toThrow();
  });

  it('keeps memory bounded under a flood of addresses, sparing current lockouts', () => {
    const { throttle } = setup({ maxEntries: 100, maxFailures: 2 });
    throttle.failed('10.9.9.9', null, 'a');
    throttle.failed('10.9.9.9', null, 'b');
    for (let i = 0; i < 1000; i++) throttle.failed(`10.1.${i >> 8}.${i & 255}`, null, 'x');
    expect(throttle.size().ips).toBeLessThanOrEqual(100);
    expect(() => throttle.check('10.9.9.9', null)).toThrow(/too many/);
  });
});
