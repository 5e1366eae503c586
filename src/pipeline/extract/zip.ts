import { Inflate, unzipSync } from 'fflate';

/**
 * Maximum uncompressed size of one ZIP entry that extraction will inflate. The XML of a
 * long resume is a few megabytes at most (an estimate), and the cap stops a small archive
 * from expanding into gigabytes.
 */
export const MAX_ZIP_ENTRY_BYTES = 32 * 1024 * 1024;

/** Maximum uncompressed size of all the entries one extraction inflates together. */
export const MAX_ZIP_TOTAL_BYTES = 64 * 1024 * 1024;

/** Raised when an archive cannot be read. */
export class ZipReadError extends Error {
  override readonly name = 'ZipReadError';
}

/** Raised when the selected entries are larger than `MAX_ZIP_ENTRY_BYTES` or `MAX_ZIP_TOTAL_BYTES` uncompressed. */
export class ZipLimitError extends Error {
  override readonly name = 'ZipLimitError';
}

/** An entry of the archive's central directory, with its declared uncompressed size in bytes. */
export interface ZipEntryInfo {
  name: string;
  originalSize: number;
}

/**
 * Lists the entries from the archive's central directory without inflating anything.
 * Returns null when the central directory is missing or unreadable, as in a truncated file.
 */
export function listZipEntries(bytes: Uint8Array): ZipEntryInfo[] | null {
  const entries: ZipEntryInfo[] = [];
  try {
    unzipSync(bytes, {
      filter: (file) => {
        entries.push({ name: file.name, originalSize: file.originalSize });
        return false;
      },
    });
  } catch {
    return null;
  }
  return entries;
}

/**
 * Inflates the entries whose names `select` accepts, in memory. The sizes declared in the
 * central directory are checked first, so an honest zip bomb fails before anything is
 * inflated. Each entry is then inflated in small steps and counted as it grows, so an
 * entry that understates its size fails as soon as it passes a cap.
 *
 * @throws ZipLimitError when an entry or all selected entries together are too large.
 * @throws ZipReadError when the archive is damaged or uses a compression method other than
 *   stored or deflate.
 */
export function readZipEntries(bytes: Uint8Array, select: (name: string) => boolean): Map<string, Uint8Array> {
  const entries = readCentralDirectory(bytes).filter((entry) => select(entry.name));

  let declaredTotal = 0;
  for (const entry of entries) {
    if (entry.method !== 0 && entry.method !== 8) {
      throw new ZipReadError(`Invalid ZIP archive: entry ${entry.name} uses compression method ${entry.method}`);
    }
    if (entry.originalSize > MAX_ZIP_ENTRY_BYTES) {
      throw new ZipLimitError(`ZIP entry ${entry.name} is ${entry.originalSize} bytes uncompressed, more than ${MAX_ZIP_ENTRY_BYTES}`);
    }
    declaredTotal += entry.originalSize;
    if (declaredTotal > MAX_ZIP_TOTAL_BYTES) {
      throw new ZipLimitError(`The ZIP entries to read are more than ${MAX_ZIP_TOTAL_BYTES} bytes uncompressed together`);
    }
  }

  const files = new Map<string, Uint8Array>();
  let total = 0;
  for (const entry of entries) {
    const data = bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    const limit = Math.min(MAX_ZIP_ENTRY_BYTES, MAX_ZIP_TOTAL_BYTES - total);
    const content = entry.method === 0 ? data.slice() : inflateWithLimit(data, limit, entry.name);
    if (content.byteLength > limit) {
      throw new ZipLimitError(`ZIP entry ${entry.name} inflates past the limit of ${MAX_ZIP_ENTRY_BYTES} bytes per entry and ${MAX_ZIP_TOTAL_BYTES} in total`);
    }
    total += content.byteLength;
    files.set(entry.name, content);
  }
  return files;
}

/** Compressed bytes fed to the inflater per step; one step yields at most about 1032 times as much. */
const INFLATE_STEP_BYTES = 4096;

/** Inflates raw deflate data, failing with `ZipLimitError` once the output passes `limit` bytes. */
function inflateWithLimit(data: Uint8Array, limit: number, name: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflater = new Inflate((chunk) => {
    total += chunk.byteLength;
    if (total > limit) {
      throw new ZipLimitError(`ZIP entry ${name} inflates past the limit of ${MAX_ZIP_ENTRY_BYTES} bytes per entry and ${MAX_ZIP_TOTAL_BYTES} in total`);
    }
    chunks.push(chunk);
  });

  try {
    for (let start = 0; start < data.byteLength; start += INFLATE_STEP_BYTES) {
      inflater.push(data.subarray(start, start + INFLATE_STEP_BYTES), start + INFLATE_STEP_BYTES >= data.byteLength);
    }
  } catch (error) {
    if (error instanceof ZipLimitError) throw error;
    throw new ZipReadError(`Invalid ZIP entry ${name}: ${describeError(error)}`, { cause: error });
  }

  const content = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    content.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return content;
}

/** A central directory entry with the position of its data. */
interface CentralDirectoryEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  /** Uncompressed size as declared, which a hostile archive may understate. */
  originalSize: number;
  /** Offset of the entry's data, after its local header. */
  dataOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const ZIP64_SENTINEL = 0xffffffff;

/**
 * Reads the central directory (PKWARE APPNOTE.TXT 4.3, with the ZIP64 records) and finds
 * where each entry's data starts. Throws `ZipReadError` for anything that does not fit the file.
 */
function readCentralDirectory(bytes: Uint8Array): CentralDirectoryEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (detail: string): never => {
    throw new ZipReadError(`Invalid ZIP archive: ${detail}`);
  };
  const u16 = (offset: number): number => (offset + 2 <= bytes.byteLength ? view.getUint16(offset, true) : fail('truncated record'));
  const u32 = (offset: number): number => (offset + 4 <= bytes.byteLength ? view.getUint32(offset, true) : fail('truncated record'));
  const u64 = (offset: number): number => (offset + 8 <= bytes.byteLength ? Number(view.getBigUint64(offset, true)) : fail('truncated record'));

  // The end record is the last 22 bytes plus a comment of at most 65535 bytes.
  let end = bytes.byteLength - 22;
  const earliest = Math.max(0, end - 0xffff);
  while (end >= earliest && view.getUint32(end, true) !== END_OF_CENTRAL_DIRECTORY) end--;
  if (end < earliest) fail('the end of the central directory was not found');

  let count = u16(end + 10);
  let offset = u32(end + 16);
  if (end >= 20 && u32(end - 20) === ZIP64_END_LOCATOR) {
    const zip64End = u64(end - 12);
    if (u32(zip64End) !== ZIP64_END_OF_CENTRAL_DIRECTORY) fail('the ZIP64 end record was not found');
    count = u64(zip64End + 32);
    offset = u64(zip64End + 48);
  }

  const decoder = new TextDecoder('utf-8');
  const entries: CentralDirectoryEntry[] = [];
  for (let index = 0; index < count; index++) {
    if (u32(offset) !== CENTRAL_DIRECTORY_HEADER) fail(`central directory entry ${index} is damaged`);
    const method = u16(offset + 10);
    let compressedSize = u32(offset + 20);
    let originalSize = u32(offset + 24);
    const nameLength = u16(offset + 28);
    const extraLength = u16(offset + 30);
    const commentLength = u16(offset + 32);
    let localOffset = u32(offset + 42);
    const name = decoder.decode(bytes.subarray(offset + 46, offset + 46 + nameLength));

    // The ZIP64 extra field (ID 1) lists the 64-bit values of the fields set to 0xFFFFFFFF, in this order.
    if (originalSize === ZIP64_SENTINEL || compressedSize === ZIP64_SENTINEL || localOffset === ZIP64_SENTINEL) {
      const extraEnd = offset + 46 + nameLength + extraLength;
      for (let field = offset + 46 + nameLength; field + 4 <= extraEnd; field += 4 + u16(field + 2)) {
        if (u16(field) !== 1) continue;
        let value = field + 4;
        if (originalSize === ZIP64_SENTINEL) {
          originalSize = u64(value);
          value += 8;
        }
        if (compressedSize === ZIP64_SENTINEL) {
          compressedSize = u64(value);
          value += 8;
        }
        if (localOffset === ZIP64_SENTINEL) localOffset = u64(value);
        break;
      }
    }

    if (u32(localOffset) !== LOCAL_FILE_HEADER) fail(`the local header of entry ${name} is damaged`);
    const dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataOffset + compressedSize > bytes.byteLength) fail(`the data of entry ${name} is truncated`);

    entries.push({ name, method, compressedSize, originalSize, dataOffset });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
