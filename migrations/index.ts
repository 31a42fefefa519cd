// Every migration, in order. The server, `npm run migrate` and the tests all
// use this list, so no glob decides what runs.
import { CreateModuleVersions1764100000000 } from './1764100000000-CreateModuleVersions';
import { CreateIdentity1764200000000 } from './1764200000000-CreateIdentity';
import { CreateModuleMods1764400000000 } from './1764400000000-CreateModuleMods';
import { CreatePublishing1764500000000 } from './1764500000000-CreatePublishing';
import { CreateAudit1764600000000 } from './1764600000000-CreateAudit';
import { AuditArchivesAppendOnly1764700000000 } from './1764700000000-AuditArchivesAppendOnly';

export const MIGRATIONS = [CreateModuleVersions1764100000000, CreateIdentity1764200000000, CreateModuleMods1764400000000, CreatePublishing1764500000000, CreateAudit1764600000000, AuditArchivesAppendOnly1764700000000];
