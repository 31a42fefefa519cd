import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

export class AuditFilterQuery {
  @ApiPropertyOptional({ description: 'From this time (inclusive), ISO 8601', example: '2026-11-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 time' })
  from?: string;

  @ApiPropertyOptional({ description: 'Before this time (exclusive), ISO 8601' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 time' })
  to?: string;

  @ApiPropertyOptional({ description: 'Login of the user or service account (or "anonymous")' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  principal?: string;

  @ApiPropertyOptional({ description: 'Team name: events of its members' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  team?: string;

  @ApiPropertyOptional({ description: 'Module path prefix (element boundaries)' })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  module?: string;

  @ApiPropertyOptional({ description: 'An action (download.zip, publish, login, …) or a family (download.*, admin.*)' })
  @IsOptional()
  @Matches(/^[a-z][a-z.]*(\.\*)?$/, { message: 'action must look like download.zip or download.*' })
  action?: string;

  @ApiPropertyOptional({ enum: ['allowed', 'denied', 'error'] })
  @IsOptional()
  @IsIn(['allowed', 'denied', 'error'])
  outcome?: 'allowed' | 'denied' | 'error';
}

export class AuditEventsQuery extends AuditFilterQuery {
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'cursor must be the nextCursor of a previous page' })
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;
}

export class AuditExportQuery extends AuditFilterQuery {
  @ApiProperty({ enum: ['csv', 'jsonl'] })
  @IsIn(['csv', 'jsonl'], { message: 'format must be csv or jsonl' })
  format!: 'csv' | 'jsonl';
}

export class AuditSummaryQuery {
  @ApiPropertyOptional({ description: 'Default: 30 days before to' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'Default: now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class AuditEventDto {
  @ApiProperty({ type: 'integer' }) seq!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ enum: ['user', 'service', 'anonymous'] }) principalKind!: string;
  @ApiProperty({ type: String, nullable: true }) principalId!: string | null;
  @ApiProperty() principal!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The id of the token used (never the token)' }) tokenId!: string | null;
  @ApiProperty({ type: [String] }) teams!: string[];
  @ApiProperty({ type: String, nullable: true }) sourceIp!: string | null;
  @ApiProperty({ type: String, nullable: true }) userAgent!: string | null;
  @ApiProperty({ type: String, nullable: true }) requestId!: string | null;
  @ApiProperty({ example: 'download.zip' }) action!: string;
  @ApiProperty({ type: String, nullable: true }) module!: string | null;
  @ApiProperty({ type: String, nullable: true }) version!: string | null;
  @ApiProperty({ enum: ['allowed', 'denied', 'error'] }) outcome!: string;
  @ApiProperty({ type: 'integer', nullable: true }) status!: number | null;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) bytes!: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Admin changes: JSON {before, after}, secrets redacted' }) details!: string | null;
  @ApiProperty({ description: 'hex' }) prevHash!: string;
  @ApiProperty({ description: 'hex: SHA-256(prevHash || canonical row)' }) hash!: string;
}

export class AuditEventsPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class VerifyReportDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ type: 'integer' }) rows!: number;
  @ApiProperty({ type: 'integer' }) fromSeq!: number;
  @ApiProperty({ type: 'integer' }) headSeq!: number;
  @ApiProperty() headHash!: string;
  @ApiPropertyOptional({ type: 'integer', description: 'The first sequence number that breaks the chain' }) brokenAt?: number;
  @ApiPropertyOptional() problem?: string;
}
