import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';

export class DeviceLoginStartDto {
  @ApiProperty({ description: 'Opaque id of this sign-in; pass it to /api/v1/auth/device/poll. Not the provider’s device code.' })
  handle!: string;
  @ApiProperty({ example: 'WDJB-MJHT', description: 'Show this to the user' })
  userCode!: string;
  @ApiProperty({ description: 'Where the user enters the code' })
  verificationUri!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The same page with the code filled in' })
  verificationUriComplete!: string | null;
  @ApiProperty({ description: 'Seconds to wait between polls' })
  interval!: number;
  @ApiProperty({ description: 'Seconds until the code expires' })
  expiresIn!: number;
}

export class DeviceLoginPollDto {
  @ApiProperty({ description: 'The handle from POST /api/v1/auth/device' })
  @IsString()
  @Length(16, 128)
  @Matches(/^[A-Za-z0-9_-]+$/)
  handle!: string;

  @ApiPropertyOptional({ maxLength: 100, description: 'Name of the token to create (default "modgate login <date>")' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  tokenName?: string;
}

export class DeviceLoginPendingDto {
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty({ description: 'Seconds to wait before the next poll' }) interval!: number;
}

export class DeviceLoginCompleteDto {
  @ApiProperty({ enum: ['complete'] }) status!: 'complete';
  @ApiProperty() login!: string;
  @ApiProperty({ description: 'A personal access token (scopes read and publish, 90 days), shown this once: the .netrc password' })
  token!: string;
  @ApiProperty() tokenName!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expiresAt!: string | null;
  @ApiProperty({ type: [String], description: 'Module path patterns the registry owns (for GONOSUMDB)' }) privatePatterns!: string[];
}
