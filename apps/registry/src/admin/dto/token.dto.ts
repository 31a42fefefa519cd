import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsOptional, IsString, IsUUID, Length,
  ValidateBy, ValidationOptions,
} from 'class-validator';
import { SCOPES, type Scope } from '../../auth/principal';
import { PageQuery, PagedDto } from './page.dto';

export class TokenDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'laptop' }) name!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty() ownerLogin!: string;
  @ApiProperty({ description: 'The public part of the token, safe to show', example: 'mg_ab12cd' }) prefix!: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes!: Scope[];
  @ApiProperty({ type: [String], nullable: true, description: 'Only these teams’ rules grant access (null: all of the owner’s teams)' })
  teamIds!: string[] | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expiresAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: Date | null;
  @ApiProperty({ type: String, nullable: true }) lastUsedIp!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
}
export const PagedTokensDto = PagedDto(TokenDto);

export class CreatedTokenDto extends TokenDto {
  @ApiProperty({ description: 'The secret, shown this once; use it as the .netrc password or a Bearer token', example: 'mg_…' })
  token!: string;
}

/** An ISO 8601 time that has not passed yet. */
function IsFuture(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    { name: 'isFuture', validator: { validate: (v: unknown) => typeof v === 'string' && Date.parse(v) > Date.now(), defaultMessage: () => '$property must be in the future' } },
    options,
  );
}

export class CreateTokenDto {
  @ApiProperty({ example: 'ci-deploy', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['read'] })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes!: Scope[];

  @ApiPropertyOptional({ type: [String], format: 'uuid', description: 'Restrict the token to these teams' })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsUUID(undefined, { each: true })
  teamIds?: string[];

  @ApiPropertyOptional({ type: String, format: 'date-time', example: '2030-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsFuture()
  expiresAt?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Admins only: create the token for this user or service account' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;
}

export class TokensQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Admins only: tokens of this user or service account' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;

  @ApiPropertyOptional({ description: 'Admins only: every token' })
  @IsOptional()
  // A query string holds text: only the words true/false mean a boolean.
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  all?: boolean;
}
