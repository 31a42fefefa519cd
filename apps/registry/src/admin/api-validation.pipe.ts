import { ValidationError, ValidationPipe } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';

/**
 * The one ValidationPipe, registered globally (APP_PIPE in AdminModule).
 *
 * Global pipes cannot see the URL, so "scoped to /api" holds by construction:
 * Nest runs pipes only on @Body/@Query/@Param arguments, and only validates
 * those typed with a class. The GOPROXY, sumdb, health and start-page routes
 * take raw req/reply or plain strings, so nothing outside /api is validated;
 * `transform` at most turns a string @Param into the same string.
 *
 * Failures become GoproxyError('bad-request') so the existing filter answers
 * 400 {code:'bad-request', message} — the message names every bad field.
 */
export function apiValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // Query strings only ever hold strings; DTOs say the type with @Type().
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => new GoproxyError('bad-request', describeValidationErrors(errors)),
  });
}

/** `limit: limit must not be greater than 200; foo: property foo should not exist` */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string {
  const parts: string[] = [];
  for (const e of errors) {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const messages = Object.values(e.constraints ?? {});
    if (messages.length > 0) parts.push(`${path}: ${messages.join(', ')}`);
    if (e.children?.length) parts.push(describeValidationErrors(e.children, path));
  }
  return parts.filter(Boolean).join('; ') || 'invalid request';
}
