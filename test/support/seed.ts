// Seeds versions from a built module tree into ModGate's store through the
// same ingest code the cache uses (publishing has no API yet).
import { createReadStream, readFileSync } from 'node:fs';
import type { BuiltVersion } from './module-tree';
import type { SharedBackends } from './modgate';

export async function seedVersions(backends: SharedBackends, versions: BuiltVersion[], time = new Date('2024-01-02T03:04:05Z')): Promise<void> {
  const ingest = await backends.ingestService();
  for (const v of versions) {
    await ingest.ingest({
      path: v.path,
      version: v.version,
      time,
      mod: readFileSync(v.modFile),
      zip: createReadStream(v.zipFile),
      origin: { kind: 'import', name: 'test-seed' },
    });
  }
}
