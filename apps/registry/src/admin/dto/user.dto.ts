import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import type { GlobalRole } from '../../auth/principal';
import { PageQuery, PagedDto } from './page.dto';

export const GLOBAL_ROLES: readonly GlobalRole[] = ['admin', 'auditor', 'user'];
/** The database's users_login_shape constraint, checked before it is hit. */
export const LOGIN_SHAPE = /^[a-z0-9][a-z0-9._@-]{0,127}$/;
const LOGIN_RULE = 'lower-case letters, digits and . _ @ -, starting with a letter or digit, at most 128 characters';

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'alice' }) login!: string;
  @ApiProperty({ enum: ['user', 'service'] }) kind!: 'user' | 'service';
  @ApiProperty({ type: String, nullable: true }) displayName!: string | null;
  @ApiProperty({ type: String, nullable: true }) email!: string | null;
  @ApiProperty({ enum: GLOBAL_ROLES }) role!: GlobalRole;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastLoginAt!: Date | null;
}
export const PagedUsersDto = PagedDto(UserDto);

export class UsersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['user', 'service'] })
  @IsOptional()
  @IsIn(['user', 'service'])
  kind?: 'user' | 'service';

  @ApiPropertyOptional({ description: 'Substring of login, display name or email' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;
}

export class CreateUserDto {
  @ApiProperty({ example: 'alice', description: LOGIN_RULE })
  @IsString()
  @Matches(LOGIN_SHAPE, { message: `login must be ${LOGIN_RULE}` })
  login!: string;

  @ApiPropertyOptional({ enum: GLOBAL_ROLES, default: 'user' })
  @IsOptional()
  @IsIn(GLOBAL_ROLES)
  role?: GlobalRole;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  displayName?: string;

  @ApiPropertyOptional({ format: 'email' })
  @IsOptional()
  @IsEmail()
  email?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: GLOBAL_ROLES })
  @IsOptional()
  @IsIn(GLOBAL_ROLES)
  role?: GlobalRole;

  @ApiPropertyOptional({ description: 'A disabled account and all its tokens are refused at once' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class CreateServiceAccountDto {
  @ApiProperty({ example: 'ci-payments', description: LOGIN_RULE })
  @IsString()
  @Matches(LOGIN_SHAPE, { message: `login must be ${LOGIN_RULE}` })
  login!: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  displayName?: string;
}

export class ServiceAccountsQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Substring of login or display name' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;
}

export class MeTeamDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'payments' }) name!: string;
  @ApiProperty({ enum: ['maintainer', 'publisher', 'reader'] }) role!: string;
}

/** The caller: their account plus what the credential in use carries. */
export class MeDto extends UserDto {
  @ApiProperty({ type: [MeTeamDto] }) teams!: MeTeamDto[];
  @ApiProperty({ enum: ['token', 'jwt'], description: 'How this request authenticated' }) via!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The token in use, if any' }) tokenId!: string | null;
  @ApiProperty({ type: [String], description: 'Scopes of the credential in use (sessions: all)' }) scopes!: string[];
  @ApiProperty({ type: [String], nullable: true, description: 'Teams the token is restricted to, if any' }) teamRestriction!: string[] | null;
}
