import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config/index.js';
import { isJobError, type JobError } from '../src/errors.js';
import { extractText } from '../src/pipeline/extract/index.js';
import { ExtractionPool, resolveWorkerScript } from '../src/pipeline/extract/thread-pool.js';
import { docxDeepNesting, docxZipBomb, fakePdf, pdfDeepNesting, pdfWithPages, pngBytes } from './fixtures/hostile-files.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CORPUS = path.resolve(ROOT, '../shared/corpus/resumes');
const workerFixture = (name: string) => new URL(`./fixtures/workers/${name}`, import.meta.url);

async function captureJobError(promise: Promise<unknown>): Promise<JobError> {
  try {
    await promise;
  } catch (error) {
    expect(isJobError(error), String(error)).toBe(true);
    return error as JobError;
  }
  throw new Error('expected the promise to reject');
}

describe('resolveWorkerScript', () => {
  it('starts a .ts entry through a bootstrap that registers tsx', () => {
    const { url, bootstrap } = resolveWorkerScript(new URL('file:///srv/app/src/pipeline/extract/worker-entry.ts'));

    expect(url.href).toBe('file:///srv/app/src/pipeline/extract/worker-entry.ts');
    expect(bootstrap?.protocol).toBe('data:');
    const source = decodeURIComponent(bootstrap!.pathname.slice('text/javascript,'.length));
    expect(source).toMatch(/import \{ register \} from "file:\/\/.*tsx\/dist\/esm\/api\/index\.mjs"/);
    expect(source).toContain('await import("file:///srv/app/src/pipeline/extract/worker-entry.ts")');
  });

  it('starts a .js entry directly', () => {
    const { url, bootstrap } = resolveWorkerScript(new URL('file:///srv/app/dist/pipeline/extract/worker-entry.js'));

    expect(url.href).toBe('file:///srv/app/dist/pipeline/extract/worker-entry.js');
    expect(bootstrap).toBeUndefined();
  });

  it('picks the .ts entry next to the module under vitest', () => {
    const { url } = resolveWorkerScript();

    expect(url.pathname.endsWith('/src/pipeline/extract/worker-entry.ts')).toBe(true);
    expect(fs.existsSync(url)).toBe(true);
  });
});

describe('ExtractionPool with the real extractor', () => {
  let pool: ExtractionPool;

  beforeAll(() => {
    pool = new ExtractionPool({ size: 2, timeoutMs: 20_000, maxMemoryMb: 256, extractOptions: { maxPages: 100 } });
  });

  afterAll(async () => {
    await pool.close();
  });

  it.each(['latex-jakes-resume.pdf', 'pandoc-docx-johnny-coder.docx', 'libreoffice-odt-twentyseconds-two-column.odt'])(
    'extracts %s like the in-thread extractor',
    async (file) => {
      const bytes = fs.readFileSync(path.join(CORPUS, file));

      const inThread = await extractText(bytes, { maxPages: 100 });
      const inWorker = await pool.extract(bytes);

      expect(inWorker).toEqual(inThread);
    },
  );

  it('reuses a thread after a successful file', async () => {
    const bytes = fs.readFileSync(path.join(CORPUS, 'text-hackmyresume-jane.txt'));
    await pool.extract(bytes);
    const threads = pool.threadCount;

    await pool.extract(bytes);

    expect(threads).toBeGreaterThan(0);
    expect(pool.threadCount).toBe(threads);
  });

  it.each([
    ['a DOCX zip bomb', 'file_too_complex', () => docxZipBomb(300)],
    ['a DOCX bomb that understates its size', 'file_too_complex', () => docxZipBomb(300, { declaredBytes: 4096 })],
    ['a DOCX nested 100000 levels', 'file_too_complex', () => docxDeepNesting(100_000)],
    ['a PDF with 5000 pages', 'file_too_complex', () => pdfWithPages(5000)],
    ['a PDF nested 100000 levels', 'file_too_complex', () => pdfDeepNesting(100_000)],
    ['a PNG named like a PDF', 'unsupported_file_type', () => pngBytes()],
    ['random bytes after %PDF-', 'file_corrupt', () => fakePdf()],
    ['an empty file', 'file_empty', () => new Uint8Array(0)],
  ])('fails %s with %s', async (_name, code, build) => {
    const error = await captureJobError(pool.extract(await build()));

    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
  });

  it('reads a PDF at the page limit', async () => {
    const document = await pool.extract(pdfWithPages(100));

    expect(document.pages).toBe(100);
    expect(document.text).toContain('Page 100 of a generated resume');
  });
});

describe('ExtractionPool limits', () => {
  const pools: ExtractionPool[] = [];
  const text = new TextEncoder().encode('Jane Example, senior engineer');

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  function makePool(workerName: string | undefined, overrides: { timeoutMs?: number; maxMemoryMb?: number } = {}): ExtractionPool {
    const pool = new ExtractionPool({
      size: 1,
      timeoutMs: overrides.timeoutMs ?? 20_000,
      maxMemoryMb: overrides.maxMemoryMb ?? 256,
      ...(workerName === undefined ? {} : { workerUrl: workerFixture(workerName) }),
    });
    pools.push(pool);
    return pool;
  }

  it('fails with extraction_timeout and terminates a thread that does not answer', async () => {
    const pool = makePool('hang.mjs', { timeoutMs: 300 });

    const error = await captureJobError(pool.extract(text));

    expect(error.code).toBe('extraction_timeout');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('0.3 seconds');
    expect(pool.threadCount).toBe(0);
  });

  it('fails with extraction_memory_exceeded when a thread runs out of heap', async () => {
    const pool = makePool('allocate.mjs', { maxMemoryMb: 64 });

    const error = await captureJobError(pool.extract(text));

    expect(error.code).toBe('extraction_memory_exceeded');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('64 MB');
    expect(pool.threadCount).toBe(0);
  });

  it('fails when a thread exits without answering', async () => {
    const pool = makePool('crash.mjs');

    await expect(pool.extract(text)).rejects.toThrow(/exited with code 3/);
    expect(pool.threadCount).toBe(0);
  });

  it('terminates the thread when the caller aborts', async () => {
    const pool = makePool('hang.mjs');
    const controller = new AbortController();
    const reason = new Error('job cancelled');

    const pending = pool.extract(text, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 100);

    await expect(pending).rejects.toBe(reason);
    expect(pool.threadCount).toBe(0);
  });

  it('serves a waiting request after a thread was terminated', async () => {
    const pool = new ExtractionPool({ size: 1, timeoutMs: 300, maxMemoryMb: 256, workerUrl: workerFixture('hang.mjs') });
    pools.push(pool);

    const first = captureJobError(pool.extract(text));
    const second = captureJobError(pool.extract(text));

    expect((await first).code).toBe('extraction_timeout');
    expect((await second).code).toBe('extraction_timeout');
  });

  it('starts a new thread for the next file after a failure', async () => {
    const pool = makePool(undefined);

    const failure = await captureJobError(pool.extract(new Uint8Array(0)));
    const document = await pool.extract(text);

    expect(failure.code).toBe('file_empty');
    expect(document.text).toBe('Jane Example, senior engineer');
  });
});

describe('compiled build', () => {
  it('extracts a file in a worker thread from the tsc output', async () => {
    // The output goes under node_modules so that its imports resolve to this repository's packages.
    const outDir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.hhw-build-test-'));
    try {
      await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], {
        cwd: ROOT,
      });
      const script = `
        import { ExtractionPool, resolveWorkerScript } from ${JSON.stringify(new URL(`file://${outDir}/pipeline/extract/thread-pool.js`).href)};
        import fs from 'node:fs';
        const pool = new ExtractionPool({ size: 1, timeoutMs: 20000, maxMemoryMb: 256 });
        const document = await pool.extract(fs.readFileSync(${JSON.stringify(path.join(CORPUS, 'latex-jakes-resume.pdf'))}));
        await pool.close();
        console.log(JSON.stringify({ script: resolveWorkerScript().url.href, format: document.format, pages: document.pages, text: document.text }));
      `;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
      const result = JSON.parse(stdout);
      const expected = await extractText(fs.readFileSync(path.join(CORPUS, 'latex-jakes-resume.pdf')));

      expect(result.script).toBe(new URL(`file://${outDir}/pipeline/extract/worker-entry.js`).href);
      expect(result.format).toBe('pdf');
      expect(result.pages).toBe(expected.pages);
      expect(result.text).toBe(expected.text);
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('under tsx', () => {
  it('extracts a file in a worker thread started from TypeScript sources', async () => {
    // `npm start` runs `tsx src/main.ts`; this runs the pool the same way, outside vitest.
    const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.hhw-tsx-test-'));
    try {
      const script = path.join(dir, 'run.mts');
      fs.writeFileSync(
        script,
        `import fs from 'node:fs';
        import { ExtractionPool, resolveWorkerScript } from ${JSON.stringify(path.join(ROOT, 'src/pipeline/extract/thread-pool.ts'))};
        const pool = new ExtractionPool({ size: 1, timeoutMs: 20000, maxMemoryMb: 256 });
        const document = await pool.extract(fs.readFileSync(${JSON.stringify(path.join(CORPUS, 'pandoc-docx-johnny-coder.docx'))}));
        await pool.close();
        console.log(JSON.stringify({ script: resolveWorkerScript().url.pathname, text: document.text }));
        `,
      );
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), script], { cwd: ROOT });
      const result = JSON.parse(stdout);
      const expected = await extractText(fs.readFileSync(path.join(CORPUS, 'pandoc-docx-johnny-coder.docx')));

      expect(result.script).toBe(path.join(ROOT, 'src/pipeline/extract/worker-entry.ts'));
      expect(result.text).toBe(expected.text);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('loadConfig extraction settings', () => {
  const base = { ENVIRONMENT: 'testing', DATA_DIR: '/tmp/hhw-unused' };

  it('reads the defaults', () => {
    const config = loadConfig(base);

    expect(config.extractTimeoutMs).toBe(30_000);
    expect(config.extractMaxMemoryMb).toBe(512);
    expect(config.extractMaxPages).toBe(100);
  });

  it('reads set values', () => {
    const config = loadConfig({ ...base, EXTRACT_TIMEOUT_SECONDS: '5', EXTRACT_MAX_MEMORY_MB: '128', EXTRACT_MAX_PAGES: '20' });

    expect(config.extractTimeoutMs).toBe(5000);
    expect(config.extractMaxMemoryMb).toBe(128);
    expect(config.extractMaxPages).toBe(20);
  });

  it.each([
    ['EXTRACT_TIMEOUT_SECONDS', '0', /EXTRACT_TIMEOUT_SECONDS "0" must be at least 1/],
    ['EXTRACT_MAX_MEMORY_MB', '16', /EXTRACT_MAX_MEMORY_MB "16" must be at least 64/],
    ['EXTRACT_MAX_PAGES', 'many', /EXTRACT_MAX_PAGES "many" must be a whole number/],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(message);
  });
});
