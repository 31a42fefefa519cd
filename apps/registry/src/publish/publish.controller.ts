import { Delete, HttpStatus, Inject, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiConsumes, ApiCreatedResponse, ApiGoneResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiPayloadTooLargeResponse, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiController } from '../admin/api-controller';
import { ApiErrorDto } from '../admin/dto/page.dto';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { parseModuleRoute } from './module-route';
import { DeleteVersionQuery, PublishedDto, PublishQuery, VersionDto } from './publish.dto';
import { PublishService } from './publish.service';
import { versionView, type VersionView } from './version-view';

/**
 * PUT /api/v1/modules/<module>/@v/<version> with the module zip as the body
 * (`curl -T x.zip`), and admin DELETE of a version. The body reaches the
 * service as the raw request stream (see PublishModule's content-type
 * parser), never buffered.
 */
@ApiController('modules')
export class PublishController {
  constructor(@Inject(PublishService) private readonly publishing: PublishService) {}

  @Put('modules/*')
  @RequireScope('publish')
  @ApiOperation({ summary: 'Publish a version: the body is the module zip (as zip.CreateFromDir makes it); 201 when stored, 200 when the same bytes were there already' })
  @ApiParam({ name: '*', description: '<module>/@v/<version>, case-encoded or plain', example: 'corp.example.com/payments/ledger/@v/v1.2.0' })
  @ApiConsumes('application/zip')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: PublishedDto })
  @ApiOkResponse({ type: PublishedDto, description: 'The same bytes were published before' })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The version exists with other content (both h1: hashes named) or was deleted' })
  @ApiPayloadTooLargeResponse({ type: ApiErrorDto, description: 'Over 500 MiB, or a go.mod or LICENSE over 16 MiB' })
  @ApiUnprocessableEntityResponse({ type: ApiErrorDto, description: 'The zip breaks a module zip rule or its go.mod is wrong; the message names the first offending file' })
  async publish(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply, @Query() q: PublishQuery, @CurrentPrincipal() who: Principal): Promise<VersionView & { created: boolean; goGet: string }> {
    const route = parseModuleRoute(req.url);
    if (route.version === null) throw new GoproxyError('bad-request', 'publish to /api/v1/modules/<module>/@v/<version>');
    const length = req.headers['content-length'];
    try {
      const { record, created } = await this.publishing.publish(who, {
        path: route.path,
        version: route.version,
        zip: req.raw,
        size: length === undefined ? null : Number(length),
        time: q.time ? new Date(q.time) : null,
        allowPseudo: q.allowPseudo ?? false,
      });
      reply.status(created ? HttpStatus.CREATED : HttpStatus.OK);
      return { ...versionView(record), created, goGet: `go get ${record.path}@${record.version}` };
    } catch (err) {
      // The rest of a refused upload is not worth reading: close afterwards.
      if (!req.raw.readableEnded) reply.header('connection', 'close');
      throw err;
    }
  }

  @Delete('modules/*')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete a published version (admin): it answers 410 with the reason afterwards and can never be published again' })
  @ApiParam({ name: '*', description: '<module>/@v/<version>', example: 'corp.example.com/payments/ledger/@v/v1.2.0' })
  @ApiOkResponse({ type: VersionDto, description: 'The version as it was' })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  @ApiGoneResponse({ type: ApiErrorDto, description: 'Deleted before' })
  async delete(@Req() req: FastifyRequest, @Query() q: DeleteVersionQuery, @CurrentPrincipal() who: Principal): Promise<VersionView> {
    const route = parseModuleRoute(req.url);
    if (route.version === null) throw new GoproxyError('bad-request', 'delete /api/v1/modules/<module>/@v/<version>: one version at a time');
    return versionView(await this.publishing.delete(who, route.path, route.version, q.reason ?? 'deleted by an admin'));
  }
}
