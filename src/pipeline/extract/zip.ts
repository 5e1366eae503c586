import { unzipSync } from 'fflate';

/**
 * Maximum uncompressed size of one ZIP entry that extraction will inflate. The XML of a
 * long resume is a few megabytes at most (an estimate), and the cap stops a small archive
 * from expanding into gigabytes.
 */
export const MAX_ZIP_ENTRY_BYTES = 64 * 1024 * 1024;

/** Raised when an archive cannot be read or declares an entry above `MAX_ZIP_ENTRY_BYTES`. */
export class ZipReadError extends Error {
  override readonly name = 'ZipReadError';
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
 * Inflates the entries whose names `select` accepts, in memory.
 * Throws `ZipReadError` when the archive is damaged or an entry is too large.
 */
export function readZipEntries(bytes: Uint8Array, select: (name: string) => boolean): Map<string, Uint8Array> {
  let oversized: string | undefined;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (file) => {
        if (!select(file.name)) return false;
        if (file.originalSize > MAX_ZIP_ENTRY_BYTES) {
          oversized ??= file.name;
          return false;
        }
        return true;
      },
    });
  } catch (error) {
    throw new ZipReadError(`Invalid ZIP archive: ${describeError(error)}`, { cause: error });
  }

  if (oversized !== undefined) {
    throw new ZipReadError(`ZIP entry ${oversized} is larger than ${MAX_ZIP_ENTRY_BYTES} bytes uncompressed`);
  }
  return new Map(Object.entries(files));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
