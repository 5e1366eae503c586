import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startFileServer, type FileServer } from './fixtures/file-server.js';
import { docxDeepNesting, docxZipBomb, fakePdf, pdfDeepNesting, pdfWithPages, pngBytes } from './fixtures/hostile-files.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus/resumes');

let stub: OllamaStub;
let receiver: CallbackReceiver;
let files: FileServer;
let service: TestService;

beforeAll(async () => {
  stub = await startOllamaStub({ parallel: 2 });
  receiver = await startCallbackReceiver(TEST_SECRET);
  files = await startFileServer();
  service = await startTestService({ OLLAMA_HOST: stub.url, WORKER_COUNT: '2', EXTRACT_MAX_MEMORY_MB: '256' });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([stub?.close(), receiver?.close(), files?.close()]);
});

describe('hostile resume files end to end', () => {
  it('fails each file with its own code', async () => {
    const hostile: { name: string; code: string; bytes: Uint8Array }[] = [
      { name: 'bomb.docx', code: 'file_too_complex', bytes: await docxZipBomb(300) },
      { name: 'understated-bomb.docx', code: 'file_too_complex', bytes: await docxZipBomb(300, { declaredBytes: 4096 }) },
      { name: 'nested.docx', code: 'file_too_complex', bytes: docxDeepNesting(100_000) },
      { name: 'pages.pdf', code: 'file_too_complex', bytes: pdfWithPages(5000) },
      { name: 'nested.pdf', code: 'file_too_complex', bytes: pdfDeepNesting(100_000) },
      { name: 'image.pdf', code: 'unsupported_file_type', bytes: pngBytes() },
      { name: 'random.pdf', code: 'file_corrupt', bytes: fakePdf() },
      { name: 'empty.pdf', code: 'file_empty', bytes: new Uint8Array(0) },
    ];
    for (const file of hostile) files.put(`/${file.name}`, file.bytes, 'application/pdf');
    files.put('/normal.pdf', fs.readFileSync(path.join(CORPUS, 'latex-jakes-resume.pdf')), 'application/pdf');

    const submit = async (requestId: string, file: string) => {
      const response = await service.post('/webhook/process-candidate', {
        request_id: requestId,
        action: 'process_candidate',
        data: { candidate_id: requestId, resume_file_url: `${files.url}/${file}` },
        callback_url: `${receiver.url}/cb/${requestId}`,
      });
      expect(response.status, requestId).toBe(202);
    };
    for (const file of hostile) await submit(`hostile-${file.name}`, file.name);
    await submit('hostile-normal', 'normal.pdf');

    const healthStatuses: number[] = [];
    let polling = true;
    const healthLoop = (async () => {
      while (polling) {
        healthStatuses.push((await service.get('/health')).status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    try {
      for (const file of hostile) {
        const status = await waitForFinalStatus(service, `hostile-${file.name}`, 60_000);
        expect(status.status, file.name).toBe('failed');
        expect(status.error.code, file.name).toBe(file.code);
        expect(status.attempts, file.name).toBe(1);
      }
      const normal = await waitForFinalStatus(service, 'hostile-normal', 60_000);
      expect(normal.status).toBe('completed');
      expect(normal.result.resume_analysis).not.toBeNull();
    } finally {
      polling = false;
      await healthLoop;
    }

    expect(healthStatuses.length).toBeGreaterThan(0);
    expect(healthStatuses.every((status) => status === 200)).toBe(true);

    const callbacks = await receiver.waitFor(hostile.length + 1, 20_000);
    const failed = callbacks.filter((callback) => callback.path.startsWith('/cb/hostile-') && callback.path !== '/cb/hostile-normal');
    expect(failed).toHaveLength(hostile.length);
    for (const callback of failed) expect((callback.verified as any).error.message).toMatch(/\. [A-Z].*\.$/);
  });
});
