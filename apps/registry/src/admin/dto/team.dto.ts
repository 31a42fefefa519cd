import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import type { TeamRole } from '../../auth/principal';
import { TEAM_REF } from './ids.dto';
import { PagedDto } from './page.dto';

export const TEAM_ROLES: readonly TeamRole[] = ['maintainer', 'publisher', 'reader'];
/** The database's teams_name_shape constraint. */
const TEAM_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class TeamDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'payments' }) name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: 'integer' }) memberCount!: number;
}
export const PagedTeamsDto = PagedDto(TeamDto);

export class CreateTeamDto {
  @ApiProperty({ example: 'payments', description: 'lower-case letters, digits and -, at most 63 characters' })
  @IsString()
  @Matches(TEAM_NAME, { message: 'name must be lower-case letters, digits and -, starting with a letter or digit, at most 63 characters' })
  name!: string;

  @ApiPropertyOptional({ maxLength: 1000 })
  @IsOptional()
  @IsString()
  @Length(0, 1000)
  description?: string;
}

export class UpdateTeamDto {
  @ApiPropertyOptional({ maxLength: 1000 })
  @IsOptional()
  @IsString()
  @Length(0, 1000)
  description?: string;
}

export class MemberDto {
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty() login!: string;
  @ApiProperty({ enum: TEAM_ROLES }) role!: TeamRole;
  @ApiProperty({ enum: ['manual', 'oidc'] }) source!: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
}
export const PagedMembersDto = PagedDto(MemberDto);

export class SetMemberDto {
  @ApiProperty({ enum: TEAM_ROLES })
  @IsIn(TEAM_ROLES)
  role!: TeamRole;
}

export class GroupMappingDto {
  @ApiProperty({ example: 'eng-payments', description: 'A value of the OIDC groups claim' }) group!: string;
  @ApiProperty({ format: 'uuid' }) teamId!: string;
  @ApiProperty({ example: 'payments' }) teamName!: string;
  @ApiProperty({ enum: TEAM_ROLES }) role!: TeamRole;
}

export class ConfiguredGroupMappingDto {
  @ApiProperty({ example: 'eng-payments' }) group!: string;
  @ApiProperty({ example: 'payments' }) teamName!: string;
  @ApiProperty({ enum: TEAM_ROLES }) role!: TeamRole;
}

export class GroupMappingsDto extends PagedDto(GroupMappingDto) {
  @ApiProperty({ type: [ConfiguredGroupMappingDto], description: 'From MODGATE_OIDC_GROUP_MAP: read-only here, applied at every sign-in too' })
  configured!: ConfiguredGroupMappingDto[];
}

export class GroupMappingKey {
  @ApiProperty({ example: 'eng-payments', description: 'A value of the OIDC groups claim (may hold "/" or "=", hence not a path segment)' })
  @IsString()
  @Length(1, 512)
  group!: string;

  @ApiProperty({ description: 'Team id or name' })
  @Matches(TEAM_REF, { message: 'teamId must be a team id (uuid) or a team name' })
  teamId!: string;
}

export class SetGroupMappingDto extends GroupMappingKey {
  @ApiProperty({ enum: TEAM_ROLES })
  @IsIn(TEAM_ROLES)
  role!: TeamRole;
}
