import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PagedDto, PageQuery } from '../admin/dto/page.dto';
import { VersionDto } from '../publish/publish.dto';

export class ModulesQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Module path prefix, on path-element boundaries', example: 'corp.example.com/payments' })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  prefix?: string;

  @ApiPropertyOptional({ description: 'Case-insensitive substring of the module path', example: 'ledger' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;

  @ApiPropertyOptional({ enum: ['owned', 'cached'], description: 'owned: private modules (MODGATE_PRIVATE); cached: public modules in the pull-through cache' })
  @IsOptional()
  @IsIn(['owned', 'cached'])
  kind?: 'owned' | 'cached';

  @ApiPropertyOptional({ description: 'Team id or name: modules whose access rules name that team' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  team?: string;
}

export class ModuleSummaryDto {
  @ApiProperty({ example: 'corp.example.com/payments/ledger' }) module!: string;
  @ApiProperty({ description: 'A private path of this registry (MODGATE_PRIVATE)' }) owned!: boolean;
  @ApiProperty({ type: [String], description: 'Teams of the access rules that decide the path' }) teams!: string[];
  @ApiProperty({ type: 'integer', description: 'Stored versions (zip and go.mod)' }) versions!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastStoredAt!: string | null;
}
export const PagedModulesDto = PagedDto(ModuleSummaryDto);

export class DeletedVersionDto {
  @ApiProperty() version!: string;
  @ApiProperty({ type: String, format: 'date-time' }) deletedAt!: string;
  @ApiProperty() deletedBy!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ description: 'The h1: hash it had; go.sum files may still hold it' }) zipHash!: string;
}

export class ModuleDetailDto {
  @ApiProperty() module!: string;
  @ApiProperty() owned!: boolean;
  @ApiProperty({ type: [String] }) teams!: string[];
  @ApiProperty({ type: String, nullable: true, description: 'What @latest answers: the highest non-retracted release, else pre-release' }) latest!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The "Deprecated:" message of the go.mod that speaks for the module' }) deprecated!: string | null;
  @ApiProperty({ type: [VersionDto], description: 'Newest first, retracted ones included (they stay downloadable)' }) versions!: VersionDto[];
  @ApiProperty({ type: [DeletedVersionDto] }) deleted!: DeletedVersionDto[];
}
