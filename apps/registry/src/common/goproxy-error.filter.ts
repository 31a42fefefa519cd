import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGGER, type AppLogger } from '../logging/logger';
import { writeErrorReply } from './error-reply';

/** The one error filter for Nest routes; see writeErrorReply. */
@Catch()
export class GoproxyErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: AppLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    writeErrorReply(exception, ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>(), this.log);
  }
}
