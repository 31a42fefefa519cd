import { Body, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AccessService, type RulePage } from '../access/access.service';
import type { Rule } from '../access/rule';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { AccessExplainer, type AdminExplanation } from './access-explainer';
import { ApiController } from './api-controller';
import { AccessRuleDto, CreateAccessRuleDto, ExplainQuery, ExplanationDto, PagedAccessRulesDto, UpdateAccessRuleDto } from './dto/access-rule.dto';
import { IdParam } from './dto/ids.dto';
import { ApiErrorDto, PageQuery, pageOf } from './dto/page.dto';

/**
 * Access rules: module-path pattern → team → permission. Only registry
 * admins change them (AccessService checks again); a change is in force on
 * every instance before the answer is sent here, and elsewhere on NOTIFY.
 */
@ApiController('access rules')
export class AccessRulesController {
  constructor(
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(AccessExplainer) private readonly explainer: AccessExplainer,
  ) {}

  @Get('access-rules')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOkResponse({ type: PagedAccessRulesDto })
  list(@Query() q: PageQuery): Promise<RulePage> {
    return this.access.listRules(pageOf(q));
  }

  // Declared before `:id`; Fastify would prefer the static segment anyway.
  @Get('access-rules/explain')
  @RequireRole('admin')
  @RequireScope('admin', 'audit')
  @ApiOperation({ summary: 'Why a principal may or may not read, publish or administer a module path, and which rule decides' })
  @ApiOkResponse({ type: ExplanationDto })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: 'No such principal' })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The principal is disabled' })
  explain(@Query() q: ExplainQuery, @CurrentPrincipal() who: Principal): Promise<AdminExplanation> {
    return this.explainer.explain(who, q.principal, q.path);
  }

  @Get('access-rules/:id')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOkResponse({ type: AccessRuleDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  get(@Param() p: IdParam): Promise<Rule> {
    return this.access.getRule(p.id);
  }

  @Post('access-rules')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiCreatedResponse({ type: AccessRuleDto })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: 'No such team' })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The team has a rule for this pattern already' })
  create(@Body() body: CreateAccessRuleDto, @CurrentPrincipal() who: Principal): Promise<Rule> {
    return this.access.createRule(body, who);
  }

  @Patch('access-rules/:id')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOkResponse({ type: AccessRuleDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The team has a rule for this pattern already' })
  update(@Param() p: IdParam, @Body() body: UpdateAccessRuleDto, @CurrentPrincipal() who: Principal): Promise<Rule> {
    if (body.pattern === undefined && body.permission === undefined) throw new GoproxyError('bad-request', 'nothing to change: give pattern and/or permission');
    return this.access.updateRule(p.id, body, who);
  }

  @Delete('access-rules/:id')
  @RequireRole('admin')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async remove(@Param() p: IdParam, @CurrentPrincipal() who: Principal): Promise<void> {
    await this.access.deleteRule(p.id, who);
  }
}
