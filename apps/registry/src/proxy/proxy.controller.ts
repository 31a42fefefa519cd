import { Controller, Get, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseGoproxyUrl } from './goproxy-request';
import { ProxyService } from './proxy.service';
import { sendProxyReply } from './send-reply';
import { ProxyMetrics } from './proxy.metrics';

/**
 * GOPROXY routes at the server root: `<module>/@v/list`, `@v/<v>.info|.mod|.zip`
 * and `<module>/@latest`, GET and HEAD. Parses, delegates, sends.
 */
@Controller()
export class ProxyController {
  constructor(
    private readonly proxy: ProxyService,
    private readonly metrics: ProxyMetrics,
  ) {}

  @Get('*')
  async serve(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const r = parseGoproxyUrl(req.url);
    const answer =
      r.kind === 'list'
        ? await this.proxy.list(r.path)
        : r.kind === 'latest'
          ? await this.proxy.latest(r.path)
          : await this.proxy[r.kind](r.path, r.version);
    await sendProxyReply(req, reply, answer, this.metrics);
  }
}
