import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';

// bigint columns come back from pg as strings; sizes fit in a JS number.
const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

@Entity('modules')
export class ModuleRow {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column('text')
  path!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity('module_versions')
export class ModuleVersionRow {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'module_id', type: 'bigint' })
  moduleId!: string;

  @ManyToOne(() => ModuleRow)
  @JoinColumn({ name: 'module_id' })
  module?: ModuleRow;

  @Column('text')
  version!: string;

  @Column({ name: 'version_time', type: 'timestamptz', nullable: true })
  versionTime!: Date | null;

  @Column({ name: 'mod_size', type: 'integer' })
  modSize!: number;

  @Column({ name: 'zip_size', type: 'bigint', transformer: bigintAsNumber })
  zipSize!: number;

  @Column({ name: 'mod_hash', type: 'text' })
  modHash!: string;

  @Column({ name: 'zip_hash', type: 'text' })
  zipHash!: string;

  @Column({ name: 'mod_key', type: 'text' })
  modKey!: string;

  @Column({ name: 'zip_key', type: 'text' })
  zipKey!: string;

  @Column({ name: 'origin_kind', type: 'text' })
  originKind!: 'upstream' | 'publish' | 'import';

  @Column('text')
  origin!: string;

  @Column({ name: 'stored_at', type: 'timestamptz' })
  storedAt!: Date;
}

export const ENTITIES = [ModuleRow, ModuleVersionRow];
