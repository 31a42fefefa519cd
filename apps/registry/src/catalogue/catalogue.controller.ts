import { Get, Inject, Query, Req } from '@nestjs/common';
import { ApiExtraModels, ApiGoneResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, getSchemaPath } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiController } from '../admin/api-controller';
import { ApiErrorDto, pageOf } from '../admin/dto/page.dto';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import type { Paged } from '../identity/paging';
import { parseModuleRoute } from '../publish/module-route';
import { VersionDto } from '../publish/publish.dto';
import type { VersionView } from '../publish/version-view';
import { ModuleDetailDto, ModulesQuery, PagedModulesDto } from './catalogue.dto';
import { CatalogueService, type ModuleDetail, type ModuleSummary } from './catalogue.service';

/** The catalogue: modules and versions the caller may read. */
@ApiController('modules')
@ApiExtraModels(ModuleDetailDto, VersionDto)
export class CatalogueController {
  constructor(@Inject(CatalogueService) private readonly catalogue: CatalogueService) {}

  @Get('modules')
  @ApiOperation({ summary: 'List or search modules (owned and cached) that the caller may read' })
  @ApiOkResponse({ type: PagedModulesDto })
  list(@Query() q: ModulesQuery, @CurrentPrincipal() who: Principal): Promise<Paged<ModuleSummary>> {
    return this.catalogue.list(who, { prefix: q.prefix, search: q.q, kind: q.kind, team: q.team }, pageOf(q));
  }

  @Get('modules/*')
  @ApiOperation({ summary: '<module>: the module with its versions, retractions and deprecation; <module>/@v/<version>: one version' })
  @ApiParam({ name: '*', description: '<module> or <module>/@v/<version>, case-encoded or plain', example: 'corp.example.com/payments/ledger' })
  @ApiOkResponse({ schema: { oneOf: [{ $ref: getSchemaPath(ModuleDetailDto) }, { $ref: getSchemaPath(VersionDto) }] } })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  @ApiGoneResponse({ type: ApiErrorDto, description: 'The version was deleted (the message says when, by whom and why)' })
  get(@Req() req: FastifyRequest, @CurrentPrincipal() who: Principal): Promise<ModuleDetail | VersionView> {
    const route = parseModuleRoute(req.url);
    return route.version === null ? this.catalogue.module(who, route.path) : this.catalogue.version(who, route.path, route.version);
  }
}
