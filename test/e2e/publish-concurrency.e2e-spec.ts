// Publishing races across processes: two ModGate processes share one
// database and one blob store. The same zip PUT many times at once is
// stored once (one 201, the rest 200, one row, one .mod and one .zip blob);
// two different zips of one new version PUT at once to the two processes
// give one 201 and one 409 naming both h1: hashes, and both processes then
// serve the winner's bytes. Nothing is left behind: no extra blob, no
// spool file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapePath, escapeVersion } from '@modgate/gomod';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { gotool } from '../support/gotool';
import { httpCall } from '../support/http';
import { putZip, type PublishAnswer } from '../support/publish';
import { moduleFiles, tempDir, writeZip } from '../support/zips';

const LEDGER = 'corp.example.com/payments/ledger';
const SAME_ZIP_CLIENTS = 6;
const ROUNDS = 5;

let backends: SharedBackends;
const servers: Modgate[] = [];
let dir: string;

beforeAll(async () => {
  backends = await createBackends('pubrace');
  const env = { MODGATE_PRIVATE: 'corp.example.com' };
  servers.push(...(await Promise.all([startModgate(backends, env), startModgate(backends, env)])));
  dir = tempDir('pubrace');
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await backends?.cleanup();
});

const put = (server: Modgate, version: string, zip: string): Promise<PublishAnswer> => putZip(server.url, LEDGER, version, zip, { token: TEST_ADMIN_TOKEN });

/** A valid zip of LEDGER@version whose content (and so h1:) depends on variant. */
async function zipOf(version: string, variant: string): Promise<{ file: string; h1: string }> {
  const file = await writeZip(join(dir, `${version}-${variant}.zip`), moduleFiles(LEDGER, version, { 'variant.go': `package ledger\n\n// Variant tells the uploads apart.\nconst Variant = "${variant}"\n` }));
  return { file, h1: gotool(['hash-zip', file]).trim() };
}

async function rowsOf(version: string): Promise<number> {
  const [{ n }] = await (await backends.dataSource()).query(
    'SELECT count(*)::int AS n FROM module_versions v JOIN modules m ON m.id = v.module_id WHERE m.path = $1 AND v.version = $2',
    [LEDGER, version],
  );
  return n;
}

/** The blob keys of one version, as their extensions. */
async function blobsOf(version: string): Promise<string[]> {
  const prefix = `modules/${escapePath(LEDGER)}/@v/${escapeVersion(version)}/`;
  return (await backends.moduleBlobKeys()).filter((k) => k.startsWith(prefix)).map((k) => k.slice(k.lastIndexOf('.'))).sort();
}

/** Nothing half-written: no ingest spool file, no blob store temp file. */
function leftovers(): string[] {
  const tmp = join(backends.blobDir, '.tmp');
  return [...backends.spoolFiles(), ...(existsSync(tmp) ? readdirSync(tmp) : [])];
}

async function zipFrom(server: Modgate, version: string): Promise<Buffer> {
  const r = await httpCall(`${server.url}/${LEDGER}/@v/${version}.zip`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return r.body;
}

it(`the same zip PUT ${SAME_ZIP_CLIENTS} times at once through two processes is stored once`, async () => {
  const version = 'v1.0.0';
  const { file, h1 } = await zipOf(version, 'same');

  const answers = await Promise.all(Array.from({ length: SAME_ZIP_CLIENTS }, (_, i) => put(servers[i % 2], version, file)));

  expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 201)).toEqual([]);
  expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
  expect(answers.map((a) => a.json.created)).toEqual(answers.map((a) => a.status === 201));
  expect(new Set(answers.map((a) => a.json.zipHash))).toEqual(new Set([h1]));
  expect(new Set(answers.map((a) => a.json.modHash)).size).toBe(1);

  expect(await rowsOf(version)).toBe(1);
  expect(await backends.versionCount()).toBe(1);
  expect(await blobsOf(version)).toEqual(['.mod', '.zip']);
  expect(await backends.moduleBlobKeys()).toHaveLength(2);
  expect(leftovers()).toEqual([]);
  for (const s of servers) expect((await zipFrom(s, version)).equals(readFileSync(file))).toBe(true);
});

describe('two different zips of one new version PUT at once to the two processes', () => {
  it.each(Array.from({ length: ROUNDS }, (_, i) => [`v1.1.${i}`, i]))('%s: one 201, one 409 naming both hashes, the winner stored', async (version, i) => {
    const a = await zipOf(version, 'a');
    const b = await zipOf(version, 'b');
    expect(a.h1).not.toBe(b.h1);
    // Alternate which process gets which zip.
    const [sa, sb] = i % 2 === 0 ? [servers[0], servers[1]] : [servers[1], servers[0]];

    const [ra, rb] = await Promise.all([put(sa, version, a.file), put(sb, version, b.file)]);

    expect([ra.status, rb.status].sort()).toEqual([201, 409]);
    const [winner, loser, conflict] = ra.status === 201 ? [a, b, rb] : [b, a, ra];
    expect((ra.status === 201 ? ra : rb).json).toMatchObject({ version, zipHash: winner.h1, created: true });
    const message = String(conflict.json.message);
    expect(message).toContain(winner.h1);
    expect(message).toContain(loser.h1);
    // The stored one is named as stored, the refused one as the upload.
    expect(message).toContain(`already stored as ${winner.h1} and the upload is ${loser.h1}`);
    expect(message).not.toMatch(/\n/);

    for (const s of servers) expect((await zipFrom(s, version)).equals(readFileSync(winner.file))).toBe(true);
    expect(await rowsOf(version)).toBe(1);
    expect(await blobsOf(version)).toEqual(['.mod', '.zip']);
    expect(leftovers()).toEqual([]);
  });

  it('left exactly one row and two blobs per version, nothing else', async () => {
    expect(await backends.versionCount()).toBe(1 + ROUNDS);
    expect(await backends.moduleBlobKeys()).toHaveLength(2 * (1 + ROUNDS));
    expect(leftovers()).toEqual([]);
  });
});
