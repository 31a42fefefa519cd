import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ENV, Env } from '../config/env';
import { clientSetupLines } from './client-setup';

/** GET / : what this is and how to point a Go installation at it. */
@Controller()
export class StartPageController {
  constructor(@Inject(ENV) private readonly env: Env) {}

  @Get()
  @Header('content-type', 'text/plain; charset=utf-8')
  @Header('cache-control', 'no-store')
  index(@Req() req: FastifyRequest): string {
    const url = this.env.publicUrl ?? `${req.protocol}://${req.host}`;
    return [
      'ModGate — private Go module registry',
      '',
      'Point the go command here:',
      ...clientSetupLines(this.env, url).map((l) => `  ${l}`),
      '',
      'Health: /healthz  Readiness: /readyz  Metrics: /metrics',
      '',
    ].join('\n');
  }
}
