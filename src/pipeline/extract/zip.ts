import { unzipSync } from 'fflate';

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
 * central directory are checked against the caps before anything is inflated. fflate
 * 0.8 inflates each entry into a buffer of its declared size, so an entry that declares a
 * small size and contains more is cut at that size instead of growing without bound.
 *
 * NOTE: fflate still decodes the rest of such an entry into nothing, which costs CPU time
 * in proportion to the hidden size (about 1 s per 300 MB, measured on a 2-core Xeon VM). Only the
 * extraction deadline in `thread-pool.ts` bounds it.
 *
 * @throws ZipLimitError when an entry or all selected entries together are too large.
 * @throws ZipReadError when the archive is damaged.
 */
export function readZipEntries(bytes: Uint8Array, select: (name: string) => boolean): Map<string, Uint8Array> {
  const entries = listZipEntries(bytes);
  if (entries === null) throw new ZipReadError('Invalid ZIP archive: the central directory cannot be read');

  let total = 0;
  for (const entry of entries) {
    if (!select(entry.name)) continue;
    if (entry.originalSize > MAX_ZIP_ENTRY_BYTES) {
      throw new ZipLimitError(`ZIP entry ${entry.name} is ${entry.originalSize} bytes uncompressed, more than ${MAX_ZIP_ENTRY_BYTES}`);
    }
    total += entry.originalSize;
    if (total > MAX_ZIP_TOTAL_BYTES) {
      throw new ZipLimitError(`The ZIP entries to read are more than ${MAX_ZIP_TOTAL_BYTES} bytes uncompressed together`);
    }
  }

  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (file) => select(file.name) });
  } catch (error) {
    throw new ZipReadError(`Invalid ZIP archive: ${describeError(error)}`, { cause: error });
  }
  return new Map(Object.entries(files));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
