import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessService } from '../access/access.service';
import { AuthenticationService } from '../auth/authentication.service';
import { writeErrorReply } from '../common/error-reply';
import { LOGGER, type AppLogger } from '../logging/logger';
import { AuditService } from '../audit/audit.service';
import { ANONYMOUS, type Principal } from '../auth/principal';
import { ParsedUrls, type GoproxyRequest } from './goproxy-request';
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
const ACTIONS: Record<GoproxyRequest['kind'], string> = {
  list: 'download.list',
  latest: 'download.latest',
  info: 'download.info',
  mod: 'download.mod',
  zip: 'download.zip',
};

@Injectable()
export class ProxyController implements OnModuleInit {
  private readonly urls = new ParsedUrls();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly proxy: ProxyService,
    private readonly metrics: ProxyMetrics,
    private readonly auth: AuthenticationService,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.route({ method: ['GET', 'HEAD'], url: '/*', handler: (req, reply) => this.serve(req, reply) });
  }

  private parsedOrNull(url: string): GoproxyRequest | null {
    try {
      return this.urls.parse(url);
    } catch {
      return null;
    }
  }

  async serve(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let who: Principal = ANONYMOUS;
    let r: GoproxyRequest | null = null;
    try {
      who = await this.auth.authenticate(req);
      r = this.urls.parse(req.url);
      this.access.require(who, 'read', r.path, req.host);
      const answer =
        r.kind === 'list'
          ? await this.proxy.list(r.path)
          : r.kind === 'latest'
            ? await this.proxy.latest(r.path)
            : await this.proxy[r.kind](r.path, r.version, req.ip);
      await sendProxyReply(req, reply, answer, this.metrics);
      const served = req.method === 'GET' && (reply.statusCode === 200 || reply.statusCode === 206) ? Number(reply.getHeader('content-length') ?? 0) : 0;
      this.audit.download(req, who, ACTIONS[r.kind], r.path, 'version' in r ? r.version : null, reply.statusCode, served, null);
    } catch (err) {
      writeErrorReply(err, req, reply, this.log);
      if (!r) r = this.parsedOrNull(req.url);
      // Requests that are not GOPROXY paths at all are not downloads.
      if (r) this.audit.download(req, who, ACTIONS[r.kind], r.path, 'version' in r ? r.version : null, reply.statusCode, 0, err instanceof Error ? err.message : null);
    }
  }
}
