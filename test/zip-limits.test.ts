import zlib from 'node:zlib';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';

import { MAX_ZIP_ENTRY_BYTES, readZipEntries, ZipLimitError, ZipReadError } from '../src/pipeline/extract/zip.js';
import { buildZip, docxZipBomb } from './fixtures/hostile-files.js';

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('utf8');

function deflatedEntry(name: string, content: string) {
  const data = Buffer.from(content);
  return { name, method: 8, data: zlib.deflateRawSync(data), size: data.byteLength, crc: zlib.crc32(data) };
}

describe('readZipEntries', () => {
  it('reads stored and deflated entries that fflate wrote', () => {
    const archive = zipSync({ 'a.xml': Buffer.from('<a>stored</a>'), 'b.xml': [Buffer.from('<b>deflated</b>'), { level: 9 }] }, { level: 0 });

    const files = readZipEntries(archive, () => true);

    expect(text(files.get('a.xml'))).toBe('<a>stored</a>');
    expect(text(files.get('b.xml'))).toBe('<b>deflated</b>');
  });

  it('reads only the selected entries', () => {
    const archive = zipSync({ 'keep.xml': Buffer.from('keep'), 'skip.bin': Buffer.from('skip') });

    const files = readZipEntries(archive, (name) => name.endsWith('.xml'));

    expect([...files.keys()]).toEqual(['keep.xml']);
  });

  it('reads sizes and offsets from ZIP64 extra fields', () => {
    const archive = buildZip([deflatedEntry('first.xml', '<first/>'), deflatedEntry('second.xml', '<second>two</second>')], { zip64: true });

    const files = readZipEntries(archive, () => true);

    expect(text(files.get('first.xml'))).toBe('<first/>');
    expect(text(files.get('second.xml'))).toBe('<second>two</second>');
  });

  it('rejects a declared size over the cap before inflating', async () => {
    const archive = await docxZipBomb(40);

    expect(() => readZipEntries(archive, () => true)).toThrow(ZipLimitError);
    expect(() => readZipEntries(archive, () => true)).toThrow(`more than ${MAX_ZIP_ENTRY_BYTES}`);
  });

  it('stops an entry that understates its size at the cap', async () => {
    const archive = await docxZipBomb(40, { declaredBytes: 1000 });

    expect(() => readZipEntries(archive, () => true)).toThrow(ZipLimitError);
    expect(() => readZipEntries(archive, () => true)).toThrow('word/document.xml inflates past the limit');
  });

  it('rejects a truncated archive', () => {
    const archive = zipSync({ 'a.xml': Buffer.from('<a/>') });

    expect(() => readZipEntries(archive.subarray(0, archive.byteLength - 10), () => true)).toThrow(ZipReadError);
  });

  it('rejects damaged deflate data', () => {
    const entry = deflatedEntry('a.xml', '<a>some text that compresses</a>');
    entry.data = Buffer.from([0xff, 0xff, 0xff, 0xff]);

    expect(() => readZipEntries(buildZip([entry]), () => true)).toThrow(ZipReadError);
  });
});
