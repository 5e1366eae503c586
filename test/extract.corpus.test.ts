import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isJobError } from '../src/errors.js';
import { extractText, type ExtractedDocument } from '../src/pipeline/extract/index.js';

// The corpus lives in a sibling checkout of the repository, both here and in CI.
const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpusDirectory = path.resolve(repositoryRoot, '../shared/corpus/resumes');

interface ManifestRow {
  file: string;
  expectPhrases: string[];
}

/** Files whose `expect_phrases` is `-`, and the error code each must raise. */
const EXPECTED_ERROR_CODES: Record<string, string> = {
  'encrypted-user-password.pdf': 'pdf_encrypted',
  'no-text-layer-blank-page.pdf': 'no_text_layer',
};

function readManifest(): ManifestRow[] {
  const [header, ...lines] = readFileSync(path.join(corpusDirectory, 'MANIFEST.tsv'), 'utf8').split('\n');
  const columns = header!.split('\t');
  const column = (cells: string[], name: string): string => cells[columns.indexOf(name)] ?? '';
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const cells = line.split('\t');
      const phrases = column(cells, 'expect_phrases');
      return {
        file: column(cells, 'file'),
        expectPhrases: phrases === '-' ? [] : phrases.split(' | '),
      };
    });
}

/** Applies the comparison the corpus defines: NFKC, then every whitespace run becomes one space. */
function comparable(text: string): string {
  return text.normalize('NFKC').replace(/[\s\u00A0]+/g, ' ');
}

function countOccurrences(text: string, phrase: string): number {
  return text.split(phrase).length - 1;
}

async function extractFile(file: string): Promise<ExtractedDocument> {
  return extractText(new Uint8Array(readFileSync(path.join(corpusDirectory, file))));
}

/** Checks that only apply to one file's known trap. */
const EXTRA_CHECKS: Record<string, (document: ExtractedDocument) => void> = {
  'word-docx-textbox-template.docx': ({ text }) => {
    const placeholders = text.match(/\[[A-Za-z_0-9]+\]/g) ?? [];
    expect(placeholders.length).toBeGreaterThanOrEqual(18);
    for (const placeholder of new Set(placeholders)) {
      expect(countOccurrences(text, placeholder), placeholder).toBe(1);
    }
    expect(text).not.toMatch(/-?\d{5,}/);
  },
  'pandoc-rtf-johnny-coder.rtf': ({ text }) => {
    expect(text).not.toContain('HYPERLINK');
    expect(text).not.toContain('http://');
    expect(text).not.toMatch(/\\[a-z]+/);
  },
  'word2003xml-hackmyresume-jane.doc': ({ text }) => {
    expect(text).not.toMatch(/[A-Za-z0-9+/]{60,}/);
    expect(text).not.toContain('iVBORw0KGgo');
    expect(text).not.toContain('Resume for Jane Q. Fullstacker');
  },
  'html-jsonresume-richard-hendriks.html': ({ text }) => {
    expect(text).not.toContain('font-family');
    expect(text).not.toMatch(/&[a-z]+;/);
  },
  'latex-moderncv-chinese.pdf': ({ text }) => {
    expect(text).not.toContain('学学学');
  },
  'libreoffice-odt-twentyseconds-two-column.odt': ({ text }) => {
    expect(text).not.toMatch(/[\uE000-\uF8FF]/);
  },
  'form-fields-swedish-employer-reference.pdf': ({ text }) => {
    expect(text).not.toContain('anställdAnställningstid');
  },
};

const rows = readManifest();

describe('extractText over the resume corpus', () => {
  it('manifest lists every corpus file', () => {
    const files = readdirSync(corpusDirectory).filter((file) => file !== 'MANIFEST.tsv');
    expect(rows.map((row) => row.file).sort()).toEqual(files.sort());
  });

  it.each(rows.map((row) => [row.file, row] as const))('%s', async (file, row) => {
    const expectedCode = EXPECTED_ERROR_CODES[file];
    if (row.expectPhrases.length === 0) {
      expect(expectedCode, `no expected error code for ${file}`).toBeDefined();
      const error: unknown = await extractFile(file).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isJobError(error), `${file} should fail with a JobError`).toBe(true);
      expect((error as { code: string }).code).toBe(expectedCode);
      expect((error as { retryable: boolean }).retryable).toBe(false);
      return;
    }

    const document = await extractFile(file);
    const text = comparable(document.text);
    for (const phrase of row.expectPhrases) {
      expect(text, `missing phrase "${phrase}"`).toContain(phrase);
    }
    EXTRA_CHECKS[file]?.(document);
  });
});
