import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessService } from '../access/access.service';
import { AuthenticationService } from '../auth/authentication.service';
import { writeErrorReply } from '../common/error-reply';
import { LOGGER, type AppLogger } from '../logging/logger';
import { ParsedUrls } from './goproxy-request';
import { ProxyService } from './proxy.service';
import { sendProxyReply } from './send-reply';
import { ProxyMetrics } from './proxy.metrics';

/**
 * GOPROXY routes at the server root: `<module>/@v/list`, `@v/<v>.info|.mod|.zip`
 * and `<module>/@latest`, GET and HEAD. Authenticates, parses, decides
 * access on the path (before the cache or an upstream is touched, so a caller
 * who may not read learns nothing about existence), delegates, sends.
 *
 * Registered on Fastify directly rather than as a Nest controller: this is
 * the hot path, and Nest's per-request pipeline (context, guards, pipes,
 * interceptors — none of which apply here) cost a third of a cached .info.
 * Fastify prefers every static route (/api, /healthz, /sumdb, …) over it.
 */
@Injectable()
export class ProxyController implements OnModuleInit {
  private readonly urls = new ParsedUrls();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly proxy: ProxyService,
    private readonly metrics: ProxyMetrics,
    private readonly auth: AuthenticationService,
    private readonly access: AccessService,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.route({ method: ['GET', 'HEAD'], url: '/*', handler: (req, reply) => this.serve(req, reply) });
  }

  async serve(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      const who = await this.auth.authenticate(req);
      const r = this.urls.parse(req.url);
      this.access.require(who, 'read', r.path, req.host);
      const answer =
        r.kind === 'list'
          ? await this.proxy.list(r.path)
          : r.kind === 'latest'
            ? await this.proxy.latest(r.path)
            : await this.proxy[r.kind](r.path, r.version);
      await sendProxyReply(req, reply, answer, this.metrics);
    } catch (err) {
      writeErrorReply(err, req, reply, this.log);
    }
  }
}
