import { Controller, Get, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessService } from '../access/access.service';
import { AuthenticationService } from '../auth/authentication.service';
import { parseGoproxyUrl } from './goproxy-request';
import { ProxyService } from './proxy.service';
import { sendProxyReply } from './send-reply';
import { ProxyMetrics } from './proxy.metrics';

/**
 * GOPROXY routes at the server root: `<module>/@v/list`, `@v/<v>.info|.mod|.zip`
 * and `<module>/@latest`, GET and HEAD. Authenticates, parses, decides
 * access on the path (before the cache or an upstream is touched, so a caller
 * who may not read learns nothing about existence), delegates, sends.
 */
@Controller()
export class ProxyController {
  constructor(
    private readonly proxy: ProxyService,
    private readonly metrics: ProxyMetrics,
    private readonly auth: AuthenticationService,
    private readonly access: AccessService,
  ) {}

  @Get('*')
  async serve(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const who = await this.auth.authenticate(req);
    const r = parseGoproxyUrl(req.url);
    this.access.require(who, 'read', r.path, req.host);
    const answer =
      r.kind === 'list'
        ? await this.proxy.list(r.path)
        : r.kind === 'latest'
          ? await this.proxy.latest(r.path)
          : await this.proxy[r.kind](r.path, r.version);
    await sendProxyReply(req, reply, answer, this.metrics);
  }
}
