/**
 * Throughput benchmark against the Ollama stub, everything on loopback.
 *
 * 1. Capacity: the stub has P parallel slots and spends L ms per model call, so it can
 *    serve at most P / L calls per second. The service runs with WORKER_COUNT = P and each
 *    job makes one model call; the ratio jobs/s ÷ (P / L) shows how much of the model's
 *    capacity the queue, workers and HTTP layer leave unused (1.0 = none).
 * 2. Overhead: with zero model latency, jobs/s end to end (signed HTTP request, durable
 *    queue, pipeline, stored result) against the baseline of calling the same analyzer
 *    directly with the same concurrency, measured in the same run.
 * 3. Extraction: time per file of text extraction in a reused worker thread and in a new
 *    thread per file, against in-thread `extractText` on the same corpus files in the
 *    same run. The ratio shows what the memory and time limits of the thread cost.
 *
 * Usage: npm run bench [-- --jobs 200 --parallel 4 --latency-ms 100 --extract-rounds 5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import pLimit from 'p-limit';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { createAnalyzer } from '../src/pipeline/analyze.js';
import { extractText } from '../src/pipeline/extract/index.js';
import { ExtractionPool } from '../src/pipeline/extract/thread-pool.js';
import { startService, type RunningService } from '../src/service.js';
import { startOllamaStub } from '../test/fixtures/ollama-stub.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    parallel: { type: 'string', default: '4' },
    'latency-ms': { type: 'string', default: '100' },
    'extract-rounds': { type: 'string', default: '5' },
  },
});
const EXTRACT_ROUNDS = Number(values['extract-rounds']);
const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus/resumes');
const EXTRACT_FILES = [
  'latex-jakes-resume.pdf',
  'gdocs-sample-resume.pdf',
  'pandoc-docx-johnny-coder.docx',
  'libreoffice-odt-twentyseconds-two-column.odt',
  'text-hackmyresume-jane.txt',
];
const JOBS = Number(values.jobs);
const PARALLEL = Number(values.parallel);
const LATENCY_MS = Number(values['latency-ms']);

const SECRET = `whsec_${Buffer.from('bench-secret-0123456789abcdef').toString('base64')}`;
const API_KEY = 'bench-key-0123456789abcdef';
const RESUME = 'Senior software engineer, 9 years. Led a team of 5. TypeScript, Node.js, PostgreSQL, Kubernetes.';

async function startBenchService(ollamaHost: string, workers: number): Promise<RunningService> {
  const config = loadConfig({
    ENVIRONMENT: 'testing',
    WEBHOOK_PORT: '0',
    WEBHOOK_API_KEY: API_KEY,
    WEBHOOK_SECRET: SECRET,
    OLLAMA_HOST: ollamaHost,
    WORKER_COUNT: String(workers),
    QUEUE_MAX_SIZE: String(JOBS * 2),
    DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-bench-')),
    LOG_LEVEL: 'silent',
  });
  return startService(config, createLogger({ level: 'silent' }));
}

/** Submits `JOBS` signed requests, then waits until every job finished; returns jobs per second. */
async function runJobs(service: RunningService, label: string): Promise<number> {
  const webhook = new Webhook(SECRET);
  const started = performance.now();
  const submit = pLimit(16);
  await Promise.all(
    Array.from({ length: JOBS }, (_, index) =>
      submit(async () => {
        const body = JSON.stringify({
          request_id: `${label}-${index}`,
          action: 'process_candidate',
          data: { candidate_id: `c-${index}`, resume_text: RESUME },
        });
        const id = `msg_${label}_${index}`;
        const now = new Date();
        const response = await fetch(`${service.url}/webhook/process-candidate`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${API_KEY}`,
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': webhook.sign(id, now, body),
          },
          body,
        });
        if (response.status !== 202) throw new Error(`submit failed: ${response.status} ${await response.text()}`);
      }),
    ),
  );

  for (;;) {
    const finished = service.store.db
      .prepare("SELECT count(*) AS n FROM jobs WHERE state IN ('completed','failed') AND request_id LIKE ?")
      .get(`${label}-%`) as { n: number };
    if (finished.n === JOBS) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const failed = service.store.db
    .prepare("SELECT count(*) AS n FROM jobs WHERE state = 'failed' AND request_id LIKE ?")
    .get(`${label}-%`) as { n: number };
  if (failed.n > 0) throw new Error(`${failed.n} jobs failed in ${label}`);
  const elapsed = (performance.now() - started) / 1000;
  const timing = service.store.db
    .prepare("SELECT avg(completed_at - started_at) AS run, avg(started_at - queued_at) AS wait FROM jobs WHERE request_id LIKE ?")
    .get(`${label}-%`) as { run: number; wait: number };
  console.log(`  mean job run time      ${timing.run.toFixed(1)} ms (claim to result), mean wait ${timing.wait.toFixed(0)} ms`);
  return JOBS / elapsed;
}

async function capacityRun(): Promise<void> {
  const stub = await startOllamaStub({ parallel: PARALLEL, latencyMs: LATENCY_MS });
  const service = await startBenchService(stub.url, PARALLEL);
  try {
    const jobsPerSecond = await runJobs(service, 'capacity');
    const capacity = PARALLEL / (LATENCY_MS / 1000);
    console.log(`capacity  P=${PARALLEL} L=${LATENCY_MS}ms jobs=${JOBS}`);
    console.log(`  stub capacity P/L      ${capacity.toFixed(1)} jobs/s`);
    console.log(`  service throughput     ${jobsPerSecond.toFixed(1)} jobs/s`);
    console.log(`  ratio                  ${(jobsPerSecond / capacity).toFixed(3)}`);
    console.log(`  stub max concurrent    ${stub.maxConcurrent}`);
  } finally {
    await service.stop();
    await stub.close();
  }
}

async function overheadRun(): Promise<void> {
  const stub = await startOllamaStub({ parallel: PARALLEL, latencyMs: 0 });
  const analyzer = createAnalyzer({ host: stub.url, model: 'llama3.1:8b', numCtx: 16384, timeoutMs: 60_000 });
  const limit = pLimit(PARALLEL);
  const baselineStarted = performance.now();
  await Promise.all(Array.from({ length: JOBS }, () => limit(() => analyzer.analyzeResume(RESUME))));
  const baseline = JOBS / ((performance.now() - baselineStarted) / 1000);

  const service = await startBenchService(stub.url, PARALLEL);
  try {
    const jobsPerSecond = await runJobs(service, 'overhead');
    console.log(`overhead  P=${PARALLEL} L=0ms jobs=${JOBS}`);
    console.log(`  analyzer alone (baseline)  ${baseline.toFixed(1)} jobs/s`);
    console.log(`  end to end                 ${jobsPerSecond.toFixed(1)} jobs/s`);
    console.log(`  ratio                      ${(jobsPerSecond / baseline).toFixed(3)}`);
  } finally {
    await service.stop();
    await stub.close();
  }
}

/** Mean milliseconds per file of `extract` over `EXTRACT_ROUNDS` passes through the files. */
async function timeExtraction(files: Uint8Array[], extract: (bytes: Uint8Array) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let round = 0; round < EXTRACT_ROUNDS; round++) {
    for (const bytes of files) await extract(bytes);
  }
  return (performance.now() - started) / (EXTRACT_ROUNDS * files.length);
}

async function extractionRun(): Promise<void> {
  const files = EXTRACT_FILES.map((name) => new Uint8Array(fs.readFileSync(path.join(CORPUS, name))));
  const limits = { size: 1, timeoutMs: 60_000, maxMemoryMb: 512 };

  // One untimed pass loads pdf.js and mammoth in this thread, as a running service has.
  for (const bytes of files) await extractText(bytes);
  const inThread = await timeExtraction(files, (bytes) => extractText(bytes));

  const pool = new ExtractionPool(limits);
  await pool.extract(files[0]!);
  const reused = await timeExtraction(files, (bytes) => pool.extract(bytes));
  await pool.close();

  const perFile = await timeExtraction(files, async (bytes) => {
    const single = new ExtractionPool(limits);
    try {
      return await single.extract(bytes);
    } finally {
      await single.close();
    }
  });

  console.log(`extraction  files=${files.length} rounds=${EXTRACT_ROUNDS} (${EXTRACT_FILES.join(', ')})`);
  console.log(`  in-thread (baseline)       ${inThread.toFixed(1)} ms/file`);
  console.log(`  reused worker thread       ${reused.toFixed(1)} ms/file  ratio ${(reused / inThread).toFixed(2)}`);
  console.log(`  new thread per file        ${perFile.toFixed(1)} ms/file  ratio ${(perFile / inThread).toFixed(2)}`);
}

console.log(`node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}`);
await capacityRun();
await overheadRun();
await extractionRun();
