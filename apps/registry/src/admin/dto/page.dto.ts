import { Type as NestType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const MAX_PAGE = 200;
export const DEFAULT_PAGE = 50;

/** `?limit&offset` of every list; query strings are text, hence @Type(Number). */
export class PageQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit: number = DEFAULT_PAGE;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  offset: number = 0;
}

/** Only limit and offset, for services that take a Page (the query may hold filters too). */
export function pageOf(q: PageQuery): { limit: number; offset: number } {
  return { limit: q.limit, offset: q.offset };
}

/** The shape of every list answer. */
export interface PagedResponse<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * A named OpenAPI schema `{items: Item[], total, limit, offset}` per item
 * type; swagger needs a class per schema, so one is made here.
 */
export function PagedDto<T>(item: NestType<T>): NestType<PagedResponse<T>> {
  class PagedOf implements PagedResponse<T> {
    @ApiProperty({ type: () => [item] })
    items!: T[];

    @ApiProperty({ type: 'integer', description: 'All matching rows, not just this page' })
    total!: number;

    @ApiProperty({ type: 'integer' })
    limit!: number;

    @ApiProperty({ type: 'integer' })
    offset!: number;
  }
  Object.defineProperty(PagedOf, 'name', { value: `Paged${item.name.replace(/Dto$/, '')}` });
  return PagedOf;
}

/** `{code, message}`: every /api error (see common/goproxy-error.filter.ts). */
export class ApiErrorDto {
  @ApiProperty({ example: 'bad-request', description: 'Stable error kind: bad-request, unauthorized, forbidden, not-found, conflict, …' })
  code!: string;

  @ApiProperty({ example: 'limit: limit must not be greater than 200' })
  message!: string;
}
