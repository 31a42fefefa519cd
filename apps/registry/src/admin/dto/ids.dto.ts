import { ApiProperty } from '@nestjs/swagger';
import { IsUUID, Matches } from 'class-validator';

/**
 * Route ids are checked here so a malformed one is a 400 naming the field,
 * not a Postgres "invalid input syntax for type uuid" turned into a 500.
 */
export class IdParam {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id!: string;
}

/** A team is addressed by id or by its (unique, URL-safe) name. */
export const TEAM_REF = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-z0-9][a-z0-9-]{0,62})$/;

export class TeamParam {
  @ApiProperty({ description: 'Team id or name' })
  @Matches(TEAM_REF, { message: 'id must be a team id (uuid) or a team name' })
  id!: string;
}

export class TeamMemberParam extends TeamParam {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  userId!: string;
}
