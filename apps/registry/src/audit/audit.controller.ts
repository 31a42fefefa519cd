import { Get, Inject, Param, ParseIntPipe, ParseUUIDPipe, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import { rowJson, type SignedManifest } from '@modgate/auditlog';
import type { FastifyReply } from 'fastify';
import { ApiController } from '../admin/api-controller';
import { CurrentPrincipal, Public, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { AuditLogService, type ArchiveInfo, type VerifyReport } from './audit-log.service';
import { AuditEventsPageDto, AuditEventsQuery, AuditExportQuery, AuditFilterQuery, AuditSummaryQuery, VerifyReportDto } from './audit.dto';
import type { AuditFilter } from './audit.repository';
import { AuditService } from './audit.service';

const seqPipe = new ParseIntPipe({ exceptionFactory: () => new GoproxyError('not-found', 'no such audit archive') });

/** The audit log for auditors (global role auditor or admin, token scope audit). */
@ApiController('audit')
export class AuditController {
  constructor(
    @Inject(AuditLogService) private readonly log: AuditLogService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Get('audit/events')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'Events in sequence order, filtered; pass nextCursor as cursor for the next page' })
  @ApiOkResponse({ type: AuditEventsPageDto })
  async events(@Query() q: AuditEventsQuery): Promise<{ items: Array<Record<string, unknown>>; nextCursor: string | null }> {
    const page = await this.log.events({ ...filterOf(q), afterSeq: q.cursor ? Number(q.cursor) : undefined }, q.limit);
    return { items: page.items.map(rowJson), nextCursor: page.nextCursor };
  }

  @Get('audit/verify')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'Walk the hash chain: the first broken sequence number, or the head hash and row count' })
  @ApiOkResponse({ type: VerifyReportDto })
  verify(): Promise<VerifyReport> {
    return this.log.verify();
  }

  @Get('audit/export')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'Stream the matching rows as CSV or JSON Lines; the signed manifest follows at /audit/exports/{X-ModGate-Export-Id}/manifest' })
  @ApiProduces('text/csv', 'application/x-ndjson')
  async export(@Query() q: AuditExportQuery, @CurrentPrincipal() who: Principal, @Res() reply: FastifyReply): Promise<void> {
    const filters = Object.fromEntries(Object.entries({ from: q.from, to: q.to, principal: q.principal, team: q.team, module: q.module, action: q.action, outcome: q.outcome }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    // Who took what out of the log is itself on record, before the first byte.
    await this.audit.security(who, 'audit.export', { outcome: 'allowed', status: 200, details: { format: q.format, filters } });
    const x = await this.log.export(filterOf(q), q.format, filters, who.login);
    reply
      .header('content-type', x.contentType)
      .header('content-disposition', `attachment; filename="${x.filename}"`)
      .header('x-modgate-export-id', x.id)
      .header('link', `</api/v1/audit/exports/${x.id}/manifest>; rel="describedby"`)
      .header('cache-control', 'no-store');
    await reply.send(x.body);
  }

  @Get('audit/exports/:id/manifest')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'The signed manifest of a finished export (rows, seq range, chain hash, SHA-256 of the bytes)' })
  manifest(@Param('id', new ParseUUIDPipe({ exceptionFactory: () => new GoproxyError('not-found', 'no such export') })) id: string): Promise<unknown> {
    return this.log.manifest(id);
  }

  @Get('audit/archives')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'The monthly archives retention moved out of the database, oldest first, with where to fetch each file and its signed manifest' })
  archives(): Promise<ArchiveInfo[]> {
    return this.log.archives();
  }

  @Get('audit/archives/:firstSeq')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'An archive as JSON Lines (check it offline with its manifest and the public key)' })
  @ApiProduces('application/x-ndjson')
  async archive(@Param('firstSeq', seqPipe) firstSeq: number, @CurrentPrincipal() who: Principal, @Res() reply: FastifyReply): Promise<void> {
    const a = await this.log.archiveFile(firstSeq);
    await this.audit.security(who, 'audit.export', { outcome: 'allowed', status: 200, details: { archive: a.filename } });
    reply
      .header('content-type', 'application/x-ndjson')
      .header('content-length', String(a.size))
      .header('content-disposition', `attachment; filename="${a.filename}"`)
      .header('link', `</api/v1/audit/archives/${firstSeq}/manifest>; rel="describedby"`);
    await reply.send(a.body);
  }

  @Get('audit/archives/:firstSeq/manifest')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'The signed manifest of an archive (rows, seq range, the hash before and after it, SHA-256 of the file)' })
  archiveManifest(@Param('firstSeq', seqPipe) firstSeq: number): Promise<SignedManifest> {
    return this.log.archiveManifest(firstSeq);
  }

  @Get('audit/public-key')
  @Public()
  @ApiOperation({ summary: 'The Ed25519 public key (PEM) that checks export and archive manifests offline' })
  publicKey(): Promise<{ keyId: string; publicKey: string }> {
    return this.log.publicKey();
  }

  @Get('audit/summary')
  @RequireRole('auditor')
  @RequireScope('audit')
  @ApiOperation({ summary: 'Per UTC day: downloads per module, team and principal; denied requests; publishes' })
  summary(@Query() q: AuditSummaryQuery): ReturnType<AuditLogService['summary']> {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * 86_400_000);
    return this.log.summary(from, to);
  }
}

function filterOf(q: AuditFilterQuery): AuditFilter {
  return {
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
    principal: q.principal,
    team: q.team,
    module: q.module,
    action: q.action,
    outcome: q.outcome,
  };
}
