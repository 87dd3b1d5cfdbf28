// A bank file on disk: created atomically (temp + fsync + rename), read with positional
// reads (one pread per block, so banks far larger than RAM work), updated through a
// write-ahead journal so that a failed write leaves the previous generation intact:
//   1. the new slot bytes + the new header go to `<bank>.journal` (temp, fsync, rename);
//   2. they are written in place and fsynced;
//   3. the journal is removed.
// Opening a bank replays a complete journal (crash during 2) and drops a torn one
// (crash during 1) — either way readers see one whole generation.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { MemoryBlock } from '@engram/inference';
import { ParametricError, ParametricErrorCode } from '../parametric.error';
import {
  BankHeader,
  BankLayout,
  BLOCK_MAGIC,
  BlockFlag,
  computeLayout,
  crc32,
  decodeHeader,
  encodeHeader,
  HEADER_REGION_BYTES,
  LevelLayout,
  TRAILER_BYTES,
} from './bank-layout';
import { decodeBlock, encodeBlock, zeroBlock } from './block.codec';

export type NewBankHeader = Omit<BankHeader, 'format' | 'version' | 'generation' | 'createdAt'> & { createdAt?: string };

export interface BankExpectations {
  modelFingerprint?: string;
  embedderFingerprint?: string;
}

export interface BlockUpdate {
  level: number;
  node: number;
  /** New weights; omitted = keep the current ones (e.g. a flag-only change). */
  block?: MemoryBlock;
  locked?: boolean;
  /** Write even if the block is locked (used by `forget`, which zeroes locked blocks). */
  force?: boolean;
}

/** Test hook: throw at a chosen point of a commit to simulate a crash. */
export interface CommitFaults {
  afterJournal?: boolean;
  /** Throw after writing this many slots in place. */
  afterSlots?: number;
}

export interface ReadBlockResult {
  block: MemoryBlock;
  flags: number;
  generation: number;
  bytesRead: number;
}

const JOURNAL_MAGIC = 'ENGRAMJ1';

export function journalPath(bankPath: string): string {
  return `${bankPath}.journal`;
}

/** Resolves `path` inside `root`, refusing anything that escapes it. */
export function resolveInside(root: string, path: string): string {
  const full = resolve(root, path);
  const rel = relative(resolve(root), full);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new ParametricError(ParametricErrorCode.PathOutsideRoot, `bank path ${path} resolves outside ${root}`);
  }
  return full;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

function readAll(fd: number, buf: Buffer, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export class BankFile {
  private fd: number | null;
  private hdr: BankHeader;
  readonly layout: BankLayout;

  private constructor(readonly path: string, fd: number, header: BankHeader) {
    this.fd = fd;
    this.hdr = header;
    this.layout = computeLayout(header);
  }

  get header(): Readonly<BankHeader> {
    return this.hdr;
  }

  get generation(): number {
    return this.hdr.generation;
  }

  /** Writes an empty bank (all slots zero; a sparse file where the filesystem allows). */
  static create(path: string, init: NewBankHeader): BankFile {
    const header: BankHeader = {
      format: 'engram-bank',
      version: 1,
      generation: 1,
      createdAt: init.createdAt ?? new Date().toISOString(),
      ...init,
    };
    const layout = computeLayout(header);
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, encodeHeader(header), 0);
      ftruncateSync(fd, layout.totalBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDir(dirname(path));
    rmSync(journalPath(path), { force: true });
    return BankFile.open(path);
  }

  static open(path: string, expect: BankExpectations = {}): BankFile {
    if (!existsSync(path)) throw new ParametricError(ParametricErrorCode.BankNotFound, `no bank file at ${path}`);
    recoverJournal(path);
    const fd = openSync(path, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size < HEADER_REGION_BYTES) {
        throw new ParametricError(ParametricErrorCode.BankTruncated, `${path} is ${size} bytes, shorter than the ${HEADER_REGION_BYTES}-byte header region`);
      }
      const region = Buffer.alloc(HEADER_REGION_BYTES);
      readAll(fd, region, 0);
      const header = decodeHeader(region, path);
      const layout = computeLayout(header);
      if (size < layout.totalBytes) {
        throw new ParametricError(ParametricErrorCode.BankTruncated, `${path} is ${size} bytes, its header describes ${layout.totalBytes}`);
      }
      if (expect.modelFingerprint !== undefined && expect.modelFingerprint !== header.modelFingerprint) {
        throw new ParametricError(
          ParametricErrorCode.ModelMismatch,
          `bank ${path} was built for model ${header.modelFingerprint.slice(0, 16)}…, not ${expect.modelFingerprint.slice(0, 16)}…`,
        );
      }
      if (expect.embedderFingerprint !== undefined && expect.embedderFingerprint !== header.embedderFingerprint) {
        throw new ParametricError(
          ParametricErrorCode.EmbedderMismatch,
          `bank ${path} routes with embedder ${header.embedderFingerprint}, not ${expect.embedderFingerprint}`,
        );
      }
      return new BankFile(path, fd, header);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  level(level: number): LevelLayout {
    const l = this.layout.levels[level - 1];
    if (!l) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `level ${level} outside the bank's levels 1..${this.layout.levels.length}`);
    return l;
  }

  slotOffset(level: number, node: number): number {
    const l = this.level(level);
    if (!Number.isInteger(node) || node < 0 || node >= l.nodes) {
      throw new ParametricError(ParametricErrorCode.PathOutsideTree, `node ${node} outside level ${level} (0..${l.nodes - 1})`);
    }
    return l.offset + node * l.slotBytes;
  }

  /** One positional read of one slot; verifies its checksum. */
  readBlock(level: number, node: number): ReadBlockResult {
    const l = this.level(level);
    const offset = this.slotOffset(level, node);
    const { hidden, layers, dtype } = this.hdr;
    if (l.rank === 0) return { block: zeroBlock(0, hidden, layers), flags: 0, generation: 0, bytesRead: 0 };
    const buf = Buffer.allocUnsafe(l.payloadBytes + TRAILER_BYTES);
    const n = readAll(this.handle(), buf, offset);
    if (n < buf.length) throw new ParametricError(ParametricErrorCode.BankTruncated, `${this.path}: block (${level}, ${node}) is cut short`);
    const magic = buf.readUInt32LE(l.payloadBytes);
    if (magic === 0) return { block: zeroBlock(l.rank, hidden, layers), flags: 0, generation: 0, bytesRead: n };
    if (magic !== BLOCK_MAGIC) throw new ParametricError(ParametricErrorCode.ChecksumMismatch, `${this.path}: block (${level}, ${node}) has a damaged trailer`);
    if (crc32(buf, 0, l.payloadBytes) !== buf.readUInt32LE(l.payloadBytes + 4)) {
      throw new ParametricError(ParametricErrorCode.ChecksumMismatch, `${this.path}: block (${level}, ${node}) fails its checksum`);
    }
    const flags = buf.readUInt32LE(l.payloadBytes + 12);
    return { block: decodeBlock(buf.subarray(0, l.payloadBytes), l.rank, hidden, layers, dtype), flags, generation: buf.readUInt32LE(l.payloadBytes + 8), bytesRead: n };
  }

  /**
   * The generation and flags of one slot from its 16-byte trailer, without reading or
   * checking the payload (0 / 0 for a never-written slot or a level of rank 0).
   */
  readTrailer(level: number, node: number): { generation: number; flags: number } {
    const l = this.level(level);
    const offset = this.slotOffset(level, node);
    if (l.rank === 0) return { generation: 0, flags: 0 };
    const buf = Buffer.alloc(TRAILER_BYTES);
    const n = readAll(this.handle(), buf, offset + l.payloadBytes);
    if (n === 0) return { generation: 0, flags: 0 }; // beyond the end of a sparse file
    if (n < buf.length) throw new ParametricError(ParametricErrorCode.BankTruncated, `${this.path}: block (${level}, ${node}) is cut short`);
    const magic = buf.readUInt32LE(0);
    if (magic === 0) return { generation: 0, flags: 0 };
    if (magic !== BLOCK_MAGIC) throw new ParametricError(ParametricErrorCode.ChecksumMismatch, `${this.path}: block (${level}, ${node}) has a damaged trailer`);
    return { generation: buf.readUInt32LE(8), flags: buf.readUInt32LE(12) };
  }

  /** Applies block updates as one new generation (journal → in place → drop journal). */
  commit(updates: readonly BlockUpdate[], faults: CommitFaults = {}, headerPatch: Partial<Pick<BankHeader, 'config'>> = {}): number {
    const fd = this.handle();
    const generation = this.hdr.generation + 1;
    const { hidden, layers, dtype } = this.hdr;
    const slots: Array<{ offset: number; bytes: Buffer }> = [];
    for (const u of updates) {
      const l = this.level(u.level);
      const offset = this.slotOffset(u.level, u.node);
      if (l.rank === 0) continue;
      const current = this.readBlock(u.level, u.node);
      if (current.flags & BlockFlag.Locked && u.block && !u.force) {
        throw new ParametricError(ParametricErrorCode.BlockLocked, `block (${u.level}, ${u.node}) is locked`);
      }
      const block = u.block ?? current.block;
      if (block.rank !== l.rank) throw new ParametricError(ParametricErrorCode.InvalidConfig, `block (${u.level}, ${u.node}) has rank ${block.rank}, level ${u.level} holds ${l.rank}`);
      const bytes = Buffer.alloc(l.payloadBytes + TRAILER_BYTES);
      encodeBlock(block, hidden, layers, dtype, bytes);
      let flags = BlockFlag.Present | (current.flags & BlockFlag.Locked);
      if (u.locked !== undefined) flags = u.locked ? flags | BlockFlag.Locked : flags & ~BlockFlag.Locked;
      bytes.writeUInt32LE(BLOCK_MAGIC, l.payloadBytes);
      bytes.writeUInt32LE(crc32(bytes, 0, l.payloadBytes), l.payloadBytes + 4);
      bytes.writeUInt32LE(generation, l.payloadBytes + 8);
      bytes.writeUInt32LE(flags, l.payloadBytes + 12);
      slots.push({ offset, bytes });
    }
    const header: BankHeader = { ...this.hdr, ...headerPatch, generation };
    slots.push({ offset: 0, bytes: encodeHeader(header) });
    writeJournal(this.path, slots);
    try {
      if (faults.afterJournal) throw new ParametricError(ParametricErrorCode.WriteFailed, 'simulated crash after the journal');
      slots.forEach((s, i) => {
        if (faults.afterSlots !== undefined && i >= faults.afterSlots) throw new ParametricError(ParametricErrorCode.WriteFailed, 'simulated crash while writing in place');
        writeAll(fd, s.bytes, s.offset);
      });
      fsyncSync(fd);
    } catch (err) {
      // The journal stays: the next open replays it and completes this generation.
      this.close();
      throw err instanceof ParametricError ? err : new ParametricError(ParametricErrorCode.WriteFailed, `writing ${this.path} failed; the journal will complete it on next open`, { cause: err });
    }
    rmSync(journalPath(this.path), { force: true });
    fsyncDir(dirname(this.path));
    this.hdr = header;
    return generation;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private handle(): number {
    if (this.fd === null) throw new ParametricError(ParametricErrorCode.WriteFailed, `bank ${this.path} is closed`);
    return this.fd;
  }
}

// ---- journal: magic(8) | count u32 | entries (offset f64, length u32, bytes) | crc32 of all before it ----

function writeJournal(bankPath: string, slots: ReadonlyArray<{ offset: number; bytes: Buffer }>): void {
  const size = 12 + slots.reduce((a, s) => a + 12 + s.bytes.length, 0) + 4;
  const buf = Buffer.alloc(size);
  buf.write(JOURNAL_MAGIC, 0, 'ascii');
  buf.writeUInt32LE(slots.length, 8);
  let pos = 12;
  for (const s of slots) {
    buf.writeDoubleLE(s.offset, pos);
    buf.writeUInt32LE(s.bytes.length, pos + 8);
    s.bytes.copy(buf, pos + 12);
    pos += 12 + s.bytes.length;
  }
  buf.writeUInt32LE(crc32(buf, 0, pos), pos);
  const tmp = `${journalPath(bankPath)}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, buf, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, journalPath(bankPath));
  fsyncDir(dirname(bankPath));
}

/** Replays a complete journal into the bank, drops a torn one. Returns whether it replayed. */
export function recoverJournal(bankPath: string): boolean {
  rmSync(`${journalPath(bankPath)}.tmp`, { force: true });
  const jp = journalPath(bankPath);
  if (!existsSync(jp)) return false;
  const buf = readFileSync(jp);
  const entries: Array<{ offset: number; bytes: Buffer }> = [];
  let valid = buf.length >= 16 && buf.toString('ascii', 0, 8) === JOURNAL_MAGIC;
  if (valid) {
    const count = buf.readUInt32LE(8);
    let pos = 12;
    for (let i = 0; i < count && valid; i++) {
      if (pos + 12 > buf.length) valid = false;
      else {
        const offset = buf.readDoubleLE(pos);
        const len = buf.readUInt32LE(pos + 8);
        if (pos + 12 + len > buf.length) valid = false;
        else entries.push({ offset, bytes: buf.subarray(pos + 12, pos + 12 + len) });
        pos += 12 + len;
      }
    }
    valid = valid && pos + 4 === buf.length && crc32(buf, 0, pos) === buf.readUInt32LE(pos);
  }
  if (valid) {
    const fd = openSync(bankPath, 'r+');
    try {
      for (const e of entries) writeAll(fd, e.bytes, e.offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  rmSync(jp, { force: true });
  fsyncDir(dirname(bankPath));
  return valid;
}
