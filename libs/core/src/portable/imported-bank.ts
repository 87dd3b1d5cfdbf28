// The files of a bank an import restores: JSON sidecars get the new memory ids, and once
// every part is in, the bank is opened the way the bank runtime opens it (BankStore), so a
// bank that imports is a bank that opens. Whatever fails is a 400 naming the bank's parts.
import { createWriteStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ModelRecord } from '@engram/persistence';
import { ParametricBank, resealTreeJson, TREE_FILE } from '@engram/parametric';
import { archiveError } from './cube-archive.format';
import { IdMap, isUuid } from './id-map';
import { isObject } from './archive-rows.validator';

/** A bank restored from the archive: its row as the archive gave it, where its files go, and the model it is for here. */
export interface ImportedBank {
  /** The bank's id in the archive (a policy names it by this id). */
  archiveId: string;
  /** Its line in banks.jsonl. */
  line: number;
  id: string;
  directory: string;
  row: Record<string, unknown>;
  model: ModelRecord;
}

/** Every uuid string in a JSON value (keys included), mapped to its new id. */
export function remapUuids(value: unknown, ids: IdMap): unknown {
  if (typeof value === 'string') return isUuid(value) ? ids.map(value) : value;
  if (Array.isArray(value)) return value.map((v) => remapUuids(v, ids));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [isUuid(k) ? ids.map(k) : k, remapUuids(v, ids)]));
  return value;
}

/**
 * Writes one file of a restored bank. JSON sidecars (tree, provenance) name memories: by
 * their new ids here, and the tree, which checksums its own JSON, is sealed again — after
 * it was checked against its old seal, since sealing a damaged tree would vouch for it.
 */
export async function writeBankFile(bank: ImportedBank, file: string, stream: Readable, ids: IdMap, part: string): Promise<void> {
  const path = join(bank.directory, file);
  if (!file.endsWith('.json')) {
    await pipeline(stream, createWriteStream(path));
    return;
  }
  await pipeline(stream, createWriteStream(`${path}.import`));
  const text = await readFile(`${path}.import`, 'utf8');
  await rm(`${path}.import`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw archiveError(`${part} is not valid JSON`);
  }
  if (file === TREE_FILE && isObject(parsed) && parsed.sha256 !== undefined && (resealTreeJson(parsed) as { sha256?: unknown }).sha256 !== parsed.sha256) {
    throw archiveError(`${part} fails its own checksum (sha256)`);
  }
  await writeFile(path, JSON.stringify(resealTreeJson(remapUuids(parsed, ids))));
}

/**
 * Opens the restored bank as BankStore does (bank file header, size, tree, fingerprints,
 * provenance sidecar) and checks the row against the files and the model.
 */
export function verifyImportedBank(bank: ImportedBank, n: number): void {
  const at = `banks/${n}`;
  // Library messages name server paths; the caller knows the bank by its archive parts.
  const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split(bank.directory).join(at);
  const row = bank.row as { levels: number; branching: number; ranks: number[]; generation?: number | null; model_fingerprint: string; embedder_fingerprint: string };
  let opened: ParametricBank;
  try {
    opened = ParametricBank.open(bank.directory, { modelFingerprint: row.model_fingerprint, embedderFingerprint: row.embedder_fingerprint, ramLevels: 0 });
  } catch (error) {
    throw archiveError(`${at}: the bank does not open: ${describe(error)}`);
  }
  try {
    const header = opened.file.header;
    const mismatch = (field: string, archived: unknown, file: unknown) => archiveError(`banks.jsonl line ${bank.line}: bank.${field} is ${JSON.stringify(archived)}, its bank file says ${JSON.stringify(file)}`);
    if (header.levels !== row.levels) throw mismatch('levels', row.levels, header.levels);
    if (header.branching !== row.branching) throw mismatch('branching', row.branching, header.branching);
    if (JSON.stringify(header.ranks) !== JSON.stringify(row.ranks)) throw mismatch('ranks', row.ranks, header.ranks);
    if ((row.generation ?? 0) > header.generation) throw mismatch('generation', row.generation, header.generation);
    const { hiddenSize, layers } = bank.model.config as { hiddenSize?: unknown; layers?: unknown };
    if ((Number.isFinite(Number(hiddenSize)) && header.hidden !== Number(hiddenSize)) || (Number.isFinite(Number(layers)) && header.layers !== Number(layers))) {
      throw archiveError(`${at}: the bank file is shaped for ${header.layers} layers × hidden ${header.hidden}, model "${bank.model.name}" has ${String(layers)} × ${String(hiddenSize)}`);
    }
    try {
      void opened.provenance;
    } catch (error) {
      throw archiveError(`${at}: the bank's provenance does not load: ${describe(error)}`);
    }
  } finally {
    opened.close();
  }
}
