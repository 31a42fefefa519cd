import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Length, Matches } from 'class-validator';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export class PublishQuery {
  @ApiPropertyOptional({ description: 'The .info Time (RFC 3339), e.g. the commit time of the tag; default: the upload time', example: '2026-11-30T12:00:00Z' })
  @IsOptional()
  @Matches(RFC3339, { message: 'time must be an RFC 3339 time such as 2026-11-30T12:00:00Z' })
  time?: string;

  @ApiPropertyOptional({ description: 'Accept a pseudo-version (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef)', default: false })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  allowPseudo?: boolean;
}

export class DeleteVersionQuery {
  @ApiPropertyOptional({ description: 'Why: shown to everyone who asks for the version afterwards (410)', example: 'leaked a credential' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class VersionDto {
  @ApiProperty({ example: 'corp.example.com/payments/ledger' }) module!: string;
  @ApiProperty({ example: 'v1.2.0' }) version!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The .info Time' }) time!: string | null;
  @ApiProperty({ example: 'h1:…', description: 'go.sum hash of the zip' }) zipHash!: string;
  @ApiProperty({ example: 'h1:…', description: 'go.sum hash of the go.mod' }) modHash!: string;
  @ApiProperty({ type: 'integer' }) zipSize!: number;
  @ApiProperty({ type: 'integer' }) modSize!: number;
  @ApiProperty({ enum: ['published', 'upstream', 'import'] }) origin!: string;
  @ApiProperty({ description: 'The publisher’s login, or the upstream URL' }) source!: string;
  @ApiProperty({ type: String, format: 'date-time' }) storedAt!: string;
  @ApiProperty() retracted!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'The rationale of the retract directive' }) retraction!: string | null;
}

export class PublishedDto extends VersionDto {
  @ApiProperty({ description: 'False when the same bytes had been published before (the answer is then 200, not 201)' }) created!: boolean;
  @ApiProperty({ example: 'go get corp.example.com/payments/ledger@v1.2.0' }) goGet!: string;
}
