import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobError } from '../src/errors.js';
import {
  recruiterInsightsJsonSchema,
  recruiterInsightsSchema,
  resumeAnalysisJsonSchema,
  resumeAnalysisSchema,
} from '../src/pipeline/analysis-schema.js';
import { createAnalyzer, type AnalysisUsage, type Analyzer, type AnalyzerOptions } from '../src/pipeline/analyze.js';
import { parseModelOutput, stripOuterFence } from '../src/pipeline/model-output.js';
import { classifyOllamaError } from '../src/pipeline/ollama-client.js';
import { CANNED_RECRUITER_INSIGHTS, CANNED_RESUME_ANALYSIS, startOllamaStub, type OllamaStub, type StubMode } from './fixtures/ollama-stub.js';

const MODEL = 'llama3.1:8b';
const NUM_CTX = 8192;
const RESUME = [
  'Jane Doe, Senior Software Engineer',
  'Acme Payments (2019-2024): led a team of 5, TypeScript, Node.js, PostgreSQL, Kubernetes.',
  'Globex Retail (2016-2019): backend engineer.',
  'BSc Computer Science, University of Lisbon.',
].join('\n');
const COMMENTS = 'Strong system design and a clear communicator. Limited experience with large teams. I would hire.';

interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  format: unknown;
  options: Record<string, unknown>;
  stream: boolean;
  keep_alive: unknown;
  think?: unknown;
}

/** Resolves to the error a promise rejects with, so several properties can be checked one by one. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function chatBodies(stub: OllamaStub): ChatBody[] {
  return stub.requests.filter((request) => request.path === '/api/chat').map((request) => request.body as ChatBody);
}

describe('analyzer', () => {
  let stub: OllamaStub;
  const analyzers: Analyzer[] = [];

  function analyzer(overrides: Partial<AnalyzerOptions> = {}): Analyzer {
    const created = createAnalyzer({
      host: stub.url,
      model: MODEL,
      numCtx: NUM_CTX,
      timeoutMs: 5_000,
      retryBaseDelayMs: 1,
      ...overrides,
    });
    analyzers.push(created);
    return created;
  }

  beforeAll(async () => {
    stub = await startOllamaStub({ chunkChars: 32 });
  });
  afterEach(async () => {
    stub.reset();
    await stub.setDown(false);
    await Promise.all(analyzers.splice(0).map((created) => created.close()));
  });
  afterAll(() => stub.close());

  describe('valid output', () => {
    it('resume analysis passes the schema', async () => {
      const result = await analyzer().analyzeResume(RESUME, { roleLevel: 'senior', name: 'Jane Doe' });
      expect(resumeAnalysisSchema.safeParse(result).success).toBe(true);
      expect(result).toEqual(CANNED_RESUME_ANALYSIS);
      expect(chatBodies(stub)).toHaveLength(1);
    });

    it('comments use the recruiter schema', async () => {
      const result = await analyzer().analyzeComments(COMMENTS);
      expect(recruiterInsightsSchema.safeParse(result).success).toBe(true);
      expect(result).toEqual(CANNED_RECRUITER_INSIGHTS);
      expect(chatBodies(stub)[0]!.format).toEqual(recruiterInsightsJsonSchema);
    });

    it('every request carries the same settings', async () => {
      stub.enqueueModes('wrong_shape');
      const analyze = analyzer();
      await analyze.analyzeResume(RESUME);
      await analyze.analyzeComments(COMMENTS);

      const bodies = chatBodies(stub);
      expect(bodies).toHaveLength(3);
      for (const body of bodies) {
        expect(body.model).toBe(MODEL);
        expect(body.stream).toBe(true);
        expect(body.options.num_ctx).toBe(NUM_CTX);
        expect(body.options.temperature).toBe(0);
        expect(body.options.seed).toBe(42);
        expect(body.options.num_predict).toBe(2048);
        expect(body.keep_alive).toBe('30m');
        expect(body).not.toHaveProperty('think');
      }
      expect(bodies[0]!.format).toEqual(resumeAnalysisJsonSchema);
      expect(bodies[1]!.format).toEqual(resumeAnalysisJsonSchema);
      expect(bodies[2]!.format).toEqual(recruiterInsightsJsonSchema);
    });

    it('prompt carries schema, rules and input', async () => {
      await analyzer().analyzeResume(RESUME, { roleLevel: 'staff', name: 'Jane Doe' });
      const [system, user] = chatBodies(stub)[0]!.messages;
      expect(system!.role).toBe('system');
      expect(system!.content).toContain(JSON.stringify(resumeAnalysisJsonSchema));
      expect(system!.content).toContain('Use only facts stated in the input');
      expect(user!.role).toBe('user');
      expect(user!.content).toContain(RESUME);
      expect(user!.content).toContain('Target role level: staff');
    });

    it('fenced JSON is accepted without repair', async () => {
      stub.setMode('fenced');
      expect(await analyzer().analyzeResume(RESUME)).toEqual(CANNED_RESUME_ANALYSIS);
      expect(chatBodies(stub)).toHaveLength(1);
    });

    it('onUsage reports each call', async () => {
      const usage: AnalysisUsage[] = [];
      stub.enqueueModes('prose');
      await analyzer({ onUsage: (entry) => usage.push(entry) }).analyzeComments(COMMENTS);
      expect(usage).toHaveLength(2);
      for (const entry of usage) {
        expect(entry.kind).toBe('comments');
        expect(entry.promptTokens).toBeGreaterThan(0);
        expect(entry.evalTokens).toBeGreaterThan(0);
        expect(entry.totalDurationNs).toBeGreaterThan(0);
        expect(entry.evalDurationNs).toBeGreaterThan(0);
      }
    });
  });

  describe('repair', () => {
    const cases: Array<[StubMode, string[]]> = [
      ['wrong_shape', ['years_experience: Invalid input', 'career_trajectory.current_level: Invalid option']],
      ['prose', ['not valid JSON']],
      ['truncated', ['cut off', 'done_reason "length"']],
      ['empty', ['answer was empty']],
    ];

    it.each(cases)('%s then valid succeeds', async (mode, expectedProblems) => {
      stub.enqueueModes(mode);
      const result = await analyzer().analyzeResume(RESUME);
      expect(result).toEqual(CANNED_RESUME_ANALYSIS);

      const bodies = chatBodies(stub);
      expect(bodies).toHaveLength(2);
      const repair = bodies[1]!.messages;
      expect(repair.slice(0, 2)).toEqual(bodies[0]!.messages);
      expect(repair[2]!.role).toBe('assistant');
      expect(repair[3]!.role).toBe('user');
      for (const problem of expectedProblems) expect(repair[3]!.content).toContain(problem);
    });

    it.each(cases)('%s twice is analysis_invalid', async (mode) => {
      stub.setMode(mode);
      const error = await rejectionOf(analyzer().analyzeResume(RESUME));
      expect(error).toBeInstanceOf(JobError);
      expect((error as JobError).code).toBe('analysis_invalid');
      expect((error as JobError).retryable).toBe(false);
      expect(chatBodies(stub)).toHaveLength(2);
    });

    it('invalid error names the failing fields', async () => {
      stub.setMode('wrong_shape');
      const error = (await rejectionOf(analyzer().analyzeResume(RESUME))) as JobError;
      expect(error.message).toContain('years_experience');
      expect(error.message).toContain('career_trajectory.current_level');
    });

    it('comments repair cites recruiter fields', async () => {
      stub.enqueueModes('wrong_shape');
      expect(await analyzer().analyzeComments(COMMENTS)).toEqual(CANNED_RECRUITER_INSIGHTS);
      const repairRequest = chatBodies(stub)[1]!.messages.at(-1)!.content;
      expect(repairRequest).toContain('- sentiment: Invalid option');
      expect(repairRequest).toContain('- cultural_fit.cultural_alignment: Invalid option');
    });

    it('truncation doubles num_predict on repair', async () => {
      stub.enqueueModes('truncated');
      await analyzer({ numPredict: 1024 }).analyzeResume(RESUME);
      const [first, second] = chatBodies(stub);
      expect(first!.options.num_predict).toBe(1024);
      expect(second!.options.num_predict).toBe(2048);
      expect(second!.options.num_ctx).toBe(NUM_CTX);
    });
  });

  describe('retries', () => {
    it.each<StubMode>(['busy_503', 'http_500_runner', 'no_done', 'error_midstream'])('%s then valid succeeds', async (mode) => {
      stub.enqueueModes(mode);
      expect(await analyzer().analyzeResume(RESUME)).toEqual(CANNED_RESUME_ANALYSIS);
      expect(chatBodies(stub)).toHaveLength(2);
    });

    it('busy after all retries is unavailable', async () => {
      stub.setMode('busy_503');
      const error = (await rejectionOf(analyzer({ maxRetries: 2 }).analyzeResume(RESUME))) as JobError;
      expect(error.code).toBe('ollama_unavailable');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('after 3 attempts');
      expect(chatBodies(stub)).toHaveLength(3);
    });

    it('server down is ollama_unavailable', async () => {
      await stub.setDown(true);
      const error = await rejectionOf(analyzer().analyzeResume(RESUME));
      expect(error).toBeInstanceOf(JobError);
      expect((error as JobError).code).toBe('ollama_unavailable');
      expect((error as JobError).retryable).toBe(true);
      expect((error as JobError).message).toContain('ECONNREFUSED');
    });

    it('missing model is not retried', async () => {
      const error = (await rejectionOf(analyzer({ model: 'mistral:7b' }).analyzeResume(RESUME))) as JobError;
      expect(error.code).toBe('model_not_found');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('ollama pull mistral:7b');
      expect(chatBodies(stub)).toHaveLength(1);
    });

    it('plain-text 500 is a fatal ollama_error', async () => {
      stub.setMode('http_500_text');
      const error = (await rejectionOf(analyzer().analyzeResume(RESUME))) as JobError;
      expect(error.code).toBe('ollama_error');
      expect(error.retryable).toBe(false);
      expect(chatBodies(stub)).toHaveLength(1);
    });
  });

  describe('deadlines and aborts', () => {
    let slowStub: OllamaStub;
    beforeAll(async () => {
      slowStub = await startOllamaStub({ slowHeadersMs: 3_000, mode: 'slow_headers' });
    });
    afterEach(() => slowStub.reset());
    afterAll(() => slowStub.close());

    it('slow headers past the deadline time out', async () => {
      slowStub.setMode('slow_headers');
      const slow = createAnalyzer({ host: slowStub.url, model: MODEL, numCtx: NUM_CTX, timeoutMs: 150, retryBaseDelayMs: 1 });
      analyzers.push(slow);

      const started = performance.now();
      const error = (await rejectionOf(slow.analyzeResume(RESUME))) as JobError;
      expect(error).toBeInstanceOf(JobError);
      expect(error.code).toBe('ollama_timeout');
      expect(error.retryable).toBe(true);
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(slowStub.requests.filter((request) => request.path === '/api/chat')).toHaveLength(1);
      await expect.poll(() => slowStub.requests[0]!.clientAborted).toBe(true);
    });

    it('caller abort is rethrown, not retried', async () => {
      slowStub.setMode('slow_headers');
      const slow = createAnalyzer({ host: slowStub.url, model: MODEL, numCtx: NUM_CTX, timeoutMs: 5_000, retryBaseDelayMs: 1 });
      analyzers.push(slow);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);

      const error = await rejectionOf(slow.analyzeResume(RESUME, { signal: controller.signal }));
      expect(error).not.toBeInstanceOf(JobError);
      expect(error).toBe(controller.signal.reason);
      expect((error as Error).name).toBe('AbortError');
      expect(slowStub.requests.filter((request) => request.path === '/api/chat')).toHaveLength(1);
    });

    it('abort during backoff stops retries', async () => {
      stub.setMode('busy_503');
      const controller = new AbortController();
      const slowBackoff = analyzer({ retryBaseDelayMs: 2_000 });
      setTimeout(() => controller.abort(new Error('job cancelled')), 100);

      const error = await rejectionOf(slowBackoff.analyzeResume(RESUME, { signal: controller.signal }));
      expect((error as Error).message).toBe('job cancelled');
      expect(chatBodies(stub)).toHaveLength(1);
    });
  });

  describe('input size', () => {
    it('too-long resume is rejected before sending', async () => {
      const longResume = 'Experienced engineer. '.repeat(2_000);
      const error = (await rejectionOf(analyzer({ numCtx: 4096, numPredict: 1024 }).analyzeResume(longResume))) as JobError;
      expect(error).toBeInstanceOf(JobError);
      expect(error.code).toBe('resume_too_long');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('4096');
      expect(error.message).toContain('OLLAMA_NUM_CTX');
      expect(chatBodies(stub)).toHaveLength(0);
    });

    it('too-long comments are rejected', async () => {
      const error = (await rejectionOf(analyzer({ numCtx: 4096, numPredict: 1024 }).analyzeComments('Great. '.repeat(5_000)))) as JobError;
      expect(error.code).toBe('comments_too_long');
      expect(chatBodies(stub)).toHaveLength(0);
    });

    it('numPredict must be below numCtx', () => {
      expect(() => analyzer({ numCtx: 2048, numPredict: 2048 })).toThrow(TypeError);
    });
  });

  describe('checkHealth', () => {
    it('server up with the model', async () => {
      expect(await analyzer().checkHealth()).toEqual({ reachable: true, modelPresent: true, version: '0.12.6' });
    });

    it('model missing', async () => {
      const health = await analyzer({ model: 'mistral:7b' }).checkHealth();
      expect(health.reachable).toBe(true);
      expect(health.modelPresent).toBe(false);
      expect(health.error).toContain('ollama pull mistral:7b');
    });

    it('server down', async () => {
      await stub.setDown(true);
      const health = await analyzer().checkHealth();
      expect(health.reachable).toBe(false);
      expect(health.modelPresent).toBe(false);
      expect(health.error).toContain('not reachable');
    });
  });

  describe('logging', () => {
    it('logs never contain the input text', async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
      const marker = 'ZEBRA-7731-PRIVATE';
      stub.enqueueModes('busy_503', 'prose', 'wrong_shape');

      await expect(analyzer({ logger }).analyzeResume(`${RESUME}\n${marker}`)).rejects.toMatchObject({ code: 'analysis_invalid' });
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(line).not.toContain(marker);
    });
  });
});

describe('model output parsing', () => {
  it('strips one outer fence only', () => {
    expect(stripOuterFence('```json\n{"a":1}\n```')).toBe('{"a":1}');
    expect(stripOuterFence('```\n{"a":1}\n```\n')).toBe('{"a":1}');
    expect(stripOuterFence('{"a":"```"}')).toBe('{"a":"```"}');
    expect(stripOuterFence('Here:\n```json\n{}\n```')).toBe('Here:\n```json\n{}\n```');
  });

  it('fenced invalid JSON is reported', () => {
    const result = parseModelOutput('```json\n{"career_trajectory": \n```', 'stop', resumeAnalysisSchema);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.summary).toEqual(['the answer is not valid JSON']);
  });

  it('length marks even parseable output', () => {
    const result = parseModelOutput(JSON.stringify(CANNED_RESUME_ANALYSIS), 'length', resumeAnalysisSchema);
    expect(result.ok).toBe(false);
  });

  it('summary never quotes the output', () => {
    const result = parseModelOutput('Sure! SECRET-RESUME-LINE {"a":1}', 'stop', resumeAnalysisSchema);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result.ok ? [] : result.summary)).not.toContain('SECRET');
  });
});

describe('error classification', () => {
  function responseError(status: number, message: string): Error {
    return Object.assign(new Error(message), { name: 'ResponseError', status_code: status, error: message });
  }

  function fetchFailed(code: string): Error {
    return Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
  }

  it.each([
    ['404 model not found', 'model_not_found', responseError(404, "model 'x' not found")],
    ['404 from a non-Ollama host', 'fatal', responseError(404, '404 page not found')],
    ['503 busy', 'retryable', responseError(503, 'server busy, please try again.  maximum pending requests exceeded')],
    ['500 runner crash', 'retryable', responseError(500, 'model runner has unexpectedly stopped, this may be due to resource limitations')],
    ['500 invalid format', 'fatal', responseError(500, 'invalid format: "x"; expected "json" or a valid JSON Schema object')],
    ['400 think unsupported', 'fatal', responseError(400, '"llama3.1:8b" does not support thinking')],
    ['connection refused', 'retryable', fetchFailed('ECONNREFUSED')],
    ['undici socket error', 'retryable', fetchFailed('UND_ERR_SOCKET')],
    ['stream without done', 'retryable', new Error('Did not receive done or success response in stream.')],
    ['unknown error', 'fatal', new Error('something else')],
  ] as const)('%s is %s', (_name, kind, error) => {
    expect(classifyOllamaError(error).kind).toBe(kind);
  });
});
