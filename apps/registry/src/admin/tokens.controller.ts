import { Body, Delete, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { actsAsAdmin } from '../identity/actor';
import type { Paged } from '../identity/paging';
import { TokensService, type TokenView } from '../identity/tokens.service';
import { UsersService } from '../identity/users.service';
import { ApiController } from './api-controller';
import { IdParam } from './dto/ids.dto';
import { ApiErrorDto, pageOf } from './dto/page.dto';
import { CreatedTokenDto, CreateTokenDto, PagedTokensDto, TokenDto, TokensQuery } from './dto/token.dto';

/**
 * API tokens (the .netrc password, or a Bearer token for the API). Anyone
 * signed in manages their own; admins also those of other accounts. What a
 * new token may carry (scopes, teams) is TokensService's rule.
 */
@ApiController('tokens')
export class TokensController {
  constructor(@Inject(TokensService) private readonly tokens: TokensService) {}

  @Post('tokens')
  @ApiOperation({ summary: 'Create a token; the answer holds its secret this once (only a hash is kept)' })
  @ApiCreatedResponse({ type: CreatedTokenDto })
  async create(@Body() body: CreateTokenDto, @CurrentPrincipal() who: Principal): Promise<TokenView & { token: string }> {
    const input = { name: body.name, scopes: body.scopes, teamIds: body.teamIds ?? null, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null };
    const { token, view } = await this.tokens.create(body.ownerId ?? who.userId!, input, who);
    // The secret first: it is the one field to copy.
    return { token, ...view };
  }

  @Get('tokens')
  @ApiOperation({ summary: 'Your tokens; admins: ?ownerId= for another account’s, ?all=true for every token' })
  @ApiOkResponse({ type: PagedTokensDto })
  list(@Query() q: TokensQuery, @CurrentPrincipal() who: Principal): Promise<Paged<TokenView>> {
    if (q.all && q.ownerId !== undefined) throw new GoproxyError('bad-request', 'all: give either ownerId or all=true, not both');
    const ownerId = q.all ? undefined : (q.ownerId ?? who.userId!);
    if (ownerId !== who.userId && !actsAsAdmin(who)) {
      throw new GoproxyError('forbidden', `${q.all ? 'all' : 'ownerId'}: only admins may list other accounts' tokens; leave it out to list yours`);
    }
    return this.tokens.list({ ownerId }, pageOf(q));
  }

  @Get('tokens/:id')
  @ApiOkResponse({ type: TokenDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async get(@Param() p: IdParam, @CurrentPrincipal() who: Principal): Promise<TokenView> {
    return this.visible(p.id, who);
  }

  @Delete('tokens/:id')
  @ApiOperation({ summary: 'Revoke: refused at once on every route and instance; answers the token with revokedAt' })
  @ApiOkResponse({ type: TokenDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async revoke(@Param() p: IdParam, @CurrentPrincipal() who: Principal): Promise<TokenView> {
    const t = await this.visible(p.id, who);
    return this.tokens.revoke(t.id, who);
  }

  /** Another account's token is reported like a missing one: ids are not to be probed. */
  private async visible(id: string, who: Principal): Promise<TokenView> {
    const t = await this.tokens.get(id);
    if (!UsersService.isSelfOrAdmin(who, t.ownerId)) throw new GoproxyError('not-found', `no token with id ${id}`);
    return t;
  }
}
