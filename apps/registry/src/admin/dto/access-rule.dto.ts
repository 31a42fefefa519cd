import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Length, Matches, ValidateBy } from 'class-validator';
import { patternProblem } from '../../access/rule';
import type { Permission } from '../../auth/principal';
import { PagedDto } from './page.dto';

export const PERMISSIONS: readonly Permission[] = ['read', 'publish', 'admin'];

/** The access service's own pattern rule, so the 400 names the field and says what is wrong. */
function IsRulePattern(): PropertyDecorator {
  return ValidateBy({
    name: 'isRulePattern',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && patternProblem(v) === null,
      defaultMessage: (a) => `${(typeof a?.value === 'string' && patternProblem(a.value)) || 'pattern must be a string'} (one GOPRIVATE-style glob, e.g. corp.example.com/payments)`,
    },
  });
}

export class CreateAccessRuleDto {
  @ApiProperty({ example: 'corp.example.com/payments/*', description: 'GOPRIVATE-style path prefix glob' })
  @IsString()
  @IsRulePattern()
  pattern!: string;

  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  teamId!: string;

  @ApiProperty({ enum: PERMISSIONS })
  @IsIn(PERMISSIONS)
  permission!: Permission;
}

export class UpdateAccessRuleDto {
  @ApiPropertyOptional({ example: 'corp.example.com/payments/*' })
  @IsOptional()
  @IsString()
  @IsRulePattern()
  pattern?: string;

  @ApiPropertyOptional({ enum: PERMISSIONS })
  @IsOptional()
  @IsIn(PERMISSIONS)
  permission?: Permission;
}

export class ExplainQuery {
  @ApiPropertyOptional({ description: 'User id or login to explain for; absent = the caller' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  principal?: string;

  @ApiProperty({ example: 'corp.example.com/payments/ledger' })
  @IsString()
  @Length(1, 500)
  @Matches(/^[^\s]+$/, { message: 'path must be a module path without spaces' })
  path!: string;
}

export class AccessRuleDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'corp.example.com/payments' }) pattern!: string;
  @ApiProperty({ format: 'uuid' }) teamId!: string;
  @ApiProperty({ example: 'payments' }) teamName!: string;
  @ApiProperty({ enum: PERMISSIONS }) permission!: Permission;
}
export const PagedAccessRulesDto = PagedDto(AccessRuleDto);

export class DecisionDto {
  @ApiProperty() allowed!: boolean;
  @ApiProperty({ example: 'granted by corp.example.com/payments → team payments (publish)' }) reason!: string;
  @ApiPropertyOptional({ type: AccessRuleDto, description: 'The rule that granted or denied, when a rule decided' }) rule?: AccessRuleDto;
  @ApiProperty({ enum: PERMISSIONS }) needed!: Permission;
  @ApiPropertyOptional({ enum: ['unauthenticated', 'forbidden', 'not-found'], description: 'How a denial is answered: 401, 403 or 404' })
  denial?: string;
}

export class DecisionsDto {
  @ApiProperty({ type: DecisionDto }) read!: DecisionDto;
  @ApiProperty({ type: DecisionDto }) publish!: DecisionDto;
  @ApiProperty({ type: DecisionDto }) admin!: DecisionDto;
}

export class ExplainedPrincipalDto {
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) id!: string | null;
  @ApiProperty() login!: string;
  @ApiProperty({ enum: ['token', 'jwt', 'anonymous'], description: 'jwt: explained as a session of that user (every scope)' }) via!: string;
}

export class ExplanationDto {
  @ApiProperty({ type: ExplainedPrincipalDto }) principal!: ExplainedPrincipalDto;
  @ApiProperty() path!: string;
  @ApiProperty({ description: 'Under MODGATE_PRIVATE: the registry owns the path' }) owned!: boolean;
  @ApiProperty({ type: [AccessRuleDto], description: 'Every matching rule, most specific first' }) matching!: AccessRuleDto[];
  @ApiProperty({ type: [AccessRuleDto], description: 'The rules of the most specific matching pattern; they decide together' }) deciding!: AccessRuleDto[];
  @ApiProperty({ type: DecisionsDto }) decisions!: DecisionsDto;
}
