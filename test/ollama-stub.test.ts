import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recruiterInsightsJsonSchema, recruiterInsightsSchema, resumeAnalysisJsonSchema, resumeAnalysisSchema } from '../src/pipeline/analysis-schema.js';
import { CANNED_RECRUITER_INSIGHTS, CANNED_RESUME_ANALYSIS, startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';

const MODEL = 'llama3.1:8b';
const METRIC_FIELDS = ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'];

function chatBody(overrides: Record<string, unknown> = {}) {
  return {
    model: MODEL,
    messages: [{ role: 'user', content: 'Analyse this resume.' }],
    format: resumeAnalysisJsonSchema,
    options: { num_ctx: 8192, num_predict: 512, temperature: 0 },
    ...overrides,
  };
}

async function post(stub: OllamaStub, path: string, body: unknown, init: RequestInit = {}) {
  return fetch(`${stub.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
}

function ndjsonLines(text: string): Array<Record<string, unknown>> {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function contentOf(lines: Array<Record<string, unknown>>): string {
  return lines.map((line) => (line.message as { content?: string } | undefined)?.content ?? '').join('');
}

describe('ollama stub', () => {
  let stub: OllamaStub;

  beforeAll(async () => {
    stub = await startOllamaStub({ chunkChars: 40 });
  });
  afterEach(() => stub.reset());
  afterAll(() => stub.close());

  describe('metadata routes', () => {
    it('GET and HEAD / report running', async () => {
      const get = await fetch(`${stub.url}/`);
      expect(get.status).toBe(200);
      expect(await get.text()).toBe('Ollama is running');
      const head = await fetch(`${stub.url}/`, { method: 'HEAD' });
      expect(head.status).toBe(200);
    });

    it('/api/version returns a version', async () => {
      const response = await fetch(`${stub.url}/api/version`);
      expect(await response.json()).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    });

    it('/api/tags lists llama3.1:8b', async () => {
      const body = (await (await fetch(`${stub.url}/api/tags`)).json()) as { models: Array<Record<string, unknown>> };
      const llama = body.models.find((model) => model.name === MODEL);
      expect(llama).toMatchObject({ model: MODEL, details: { family: 'llama', format: 'gguf' } });
      expect(llama?.digest).toMatch(/^[0-9a-f]{64}$/);
    });

    it('/api/show returns model_info or 404', async () => {
      const found = await post(stub, '/api/show', { model: MODEL });
      expect(found.status).toBe(200);
      expect(((await found.json()) as { model_info: Record<string, unknown> }).model_info['llama.context_length']).toBe(131072);

      const missing = await post(stub, '/api/show', { model: 'mistral:7b' });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: "model 'mistral:7b' not found" });
    });

    it('/api/ps shows the loaded context length', async () => {
      await (await post(stub, '/api/chat', chatBody())).text();
      const body = (await (await fetch(`${stub.url}/api/ps`)).json()) as { models: Array<Record<string, unknown>> };
      expect(body.models).toHaveLength(1);
      expect(body.models[0]).toMatchObject({ name: MODEL, context_length: 8192 });
      expect(Date.parse(body.models[0]!.expires_at as string)).toBeGreaterThan(Date.now());
    });

    it('unknown route is a plain-text 404', async () => {
      const response = await fetch(`${stub.url}/api/nothing`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toBe('404 page not found');
    });
  });

  describe('chat streaming', () => {
    it('streams NDJSON with metrics only at the end', async () => {
      const response = await post(stub, '/api/chat', chatBody());
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/x-ndjson');

      const lines = ndjsonLines(await response.text());
      expect(lines.length).toBeGreaterThan(2);
      const final = lines.at(-1)!;
      for (const line of lines.slice(0, -1)) {
        expect(line.done).toBe(false);
        for (const field of [...METRIC_FIELDS, 'done_reason']) expect(line).not.toHaveProperty(field);
      }
      expect(final.done).toBe(true);
      expect(final.done_reason).toBe('stop');
      // Go's omitempty drops a zero metric, and a warm model has no load time.
      for (const field of METRIC_FIELDS.filter((name) => name !== 'load_duration')) expect(Number.isInteger(final[field])).toBe(true);
      expect(typeof final.created_at).toBe('string');
    });

    it('final chunk carries the last content', async () => {
      const lines = ndjsonLines(await (await post(stub, '/api/chat', chatBody())).text());
      expect((lines.at(-1)!.message as { content: string }).content).not.toBe('');
      expect(JSON.parse(contentOf(lines))).toEqual(CANNED_RESUME_ANALYSIS);
    });

    it('stream false returns one JSON object', async () => {
      const response = await post(stub, '/api/chat', chatBody({ stream: false }));
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ done: true, done_reason: 'stop', message: { role: 'assistant' } });
      expect(JSON.parse((body.message as { content: string }).content)).toEqual(CANNED_RESUME_ANALYSIS);
    });

    it('generate streams response pieces', async () => {
      const response = await post(stub, '/api/generate', { model: MODEL, prompt: 'Say hello' });
      const lines = ndjsonLines(await response.text());
      expect(lines.map((line) => line.response).join('')).toBe('This is a stub answer.');
      expect(lines.at(-1)).toMatchObject({ done: true, context: expect.any(Array) });
    });

    it('empty messages load or unload the model', async () => {
      const load = await post(stub, '/api/chat', { model: MODEL, messages: [], stream: false });
      expect(await load.json()).toMatchObject({ done: true, done_reason: 'load' });
      const unload = await post(stub, '/api/chat', { model: MODEL, messages: [], keep_alive: 0, stream: false });
      expect(await unload.json()).toMatchObject({ done: true, done_reason: 'unload' });
    });

    it('canned answers pass the project schemas', async () => {
      expect(resumeAnalysisSchema.safeParse(CANNED_RESUME_ANALYSIS).success).toBe(true);
      expect(recruiterInsightsSchema.safeParse(CANNED_RECRUITER_INSIGHTS).success).toBe(true);

      const response = await post(stub, '/api/chat', chatBody({ format: recruiterInsightsJsonSchema, stream: false }));
      const content = ((await response.json()) as { message: { content: string } }).message.content;
      expect(recruiterInsightsSchema.safeParse(JSON.parse(content)).success).toBe(true);
    });

    it('records the parsed request body', async () => {
      await (await post(stub, '/api/chat', chatBody())).text();
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]).toMatchObject({ method: 'POST', path: '/api/chat', mode: 'valid' });
      expect(stub.requests[0]!.body).toMatchObject({ options: { num_ctx: 8192, temperature: 0 }, format: resumeAnalysisJsonSchema });
    });
  });

  describe('request errors', () => {
    it.each([
      ['missing body', '', 400, 'missing request body'],
      ['missing model', chatBody({ model: '' }), 400, 'model is required'],
      ['unknown model', chatBody({ model: 'mistral:7b' }), 404, "model 'mistral:7b' not found"],
      ['untagged unknown model', chatBody({ model: 'llama3.1' }), 404, "model 'llama3.1' not found"],
      ['think on llama3.1', chatBody({ think: true }), 400, `"${MODEL}" does not support thinking`],
      ['top_logprobs out of range', chatBody({ top_logprobs: 21 }), 400, 'top_logprobs must be between 0 and 20'],
      ['string num_ctx', chatBody({ options: { num_ctx: '8192' } }), 500, 'option "num_ctx" must be of type integer'],
      [
        'stringified schema as format',
        chatBody({ format: '{"type":"object"}' }),
        500,
        'invalid format: "{\\"type\\":\\"object\\"}"; expected "json" or a valid JSON Schema object',
      ],
    ])('%s', async (_name, body, status, message) => {
      const response = await post(stub, '/api/chat', body);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.json()).toEqual({ error: message });
    });
  });

  describe('fault modes', () => {
    it('busy_503 returns the exact busy message', async () => {
      stub.enqueueModes('busy_503');
      const response = await post(stub, '/api/chat', chatBody());
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: 'server busy, please try again.  maximum pending requests exceeded' });
    });

    it('http_500_runner returns the runner crash', async () => {
      stub.setMode('http_500_runner');
      const response = await post(stub, '/api/chat', chatBody());
      expect(response.status).toBe(500);
      expect(((await response.json()) as { error: string }).error).toMatch(/^model runner has unexpectedly stopped/);
    });

    it('http_500_text returns plain text', async () => {
      stub.setMode('http_500_text');
      const response = await post(stub, '/api/chat', chatBody());
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    });

    it('error_midstream ends with an error line', async () => {
      stub.setMode('error_midstream');
      const response = await post(stub, '/api/chat', chatBody());
      expect(response.status).toBe(200);
      const lines = ndjsonLines(await response.text());
      expect(lines.at(-1)).toEqual({ error: expect.stringMatching(/^model runner has unexpectedly stopped/) });
      expect(lines.some((line) => line.done === true)).toBe(false);
    });

    it('no_done ends without a done line', async () => {
      stub.setMode('no_done');
      const lines = ndjsonLines(await (await post(stub, '/api/chat', chatBody())).text());
      expect(lines.some((line) => line.done === true)).toBe(false);
      expect(lines.length).toBeGreaterThan(31);
    });

    it('no_done without streaming returns done false', async () => {
      stub.setMode('no_done');
      const body = (await (await post(stub, '/api/chat', chatBody({ stream: false }))).json()) as Record<string, unknown>;
      expect(body.done).toBe(false);
    });

    it('truncated reports length and num_predict', async () => {
      stub.setMode('truncated');
      const lines = ndjsonLines(await (await post(stub, '/api/chat', chatBody())).text());
      expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'length', eval_count: 512 });
      expect(() => JSON.parse(contentOf(lines))).toThrow(SyntaxError);
    });

    it.each([
      ['fenced', /^```json\n[\s\S]*\n```$/],
      ['prose', /^Here is the candidate analysis:\n\{[\s\S]*\}\nLet me know/],
      ['empty', /^$/],
    ] as const)('%s shapes the content', async (mode, pattern) => {
      stub.setMode(mode);
      const lines = ndjsonLines(await (await post(stub, '/api/chat', chatBody())).text());
      expect(contentOf(lines)).toMatch(pattern);
      expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'stop' });
    });

    it('whitespace_loop pads until num_predict', async () => {
      stub.setMode('whitespace_loop');
      const body = chatBody({ options: { num_ctx: 8192, num_predict: 3 } });
      const lines = ndjsonLines(await (await post(stub, '/api/chat', body)).text());
      const content = contentOf(lines);
      expect(content.endsWith('   ')).toBe(true);
      expect(JSON.parse(content)).toEqual(CANNED_RESUME_ANALYSIS);
      expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'length' });
    });

    it('wrong_shape fails the resume schema', async () => {
      stub.setMode('wrong_shape');
      const content = contentOf(ndjsonLines(await (await post(stub, '/api/chat', chatBody())).text()));
      const result = resumeAnalysisSchema.safeParse(JSON.parse(content));
      expect(result.success).toBe(false);
      const paths = result.error!.issues.map((issue) => issue.path.join('.'));
      expect(paths).toContain('years_experience');
      expect(paths).toContain('career_trajectory.current_level');
      expect(paths).toContain('career_trajectory.career_changes');
    });

    it('marker beats queue beats global mode', async () => {
      stub.setMode('empty');
      stub.enqueueModes('prose');
      const marked = chatBody({ messages: [{ role: 'user', content: 'resume [[stub:fenced]]' }] });
      await (await post(stub, '/api/chat', marked)).text();
      await (await post(stub, '/api/chat', chatBody())).text();
      await (await post(stub, '/api/chat', chatBody())).text();
      expect(stub.requests.map((request) => request.mode)).toEqual(['fenced', 'prose', 'empty']);
    });
  });

  describe('down', () => {
    it('refuses connections until back up', async () => {
      await stub.setDown(true);
      // A fresh pool, so no kept-alive socket from earlier tests responds first.
      const dispatcher = new Agent();
      const error = await undiciFetch(`${stub.url}/`, { dispatcher }).catch((caught: unknown) => caught);
      await dispatcher.close();
      expect(error).toBeInstanceOf(TypeError);
      expect(((error as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');

      await stub.setDown(false);
      expect((await fetch(`${stub.url}/`)).status).toBe(200);
    });
  });
});

describe('ollama stub concurrency', () => {
  const stubs: OllamaStub[] = [];
  async function start(options: Parameters<typeof startOllamaStub>[0]) {
    const stub = await startOllamaStub(options);
    stubs.push(stub);
    return stub;
  }
  afterEach(async () => {
    await Promise.all(stubs.splice(0).map((stub) => stub.close()));
  });

  it('parallel 1 runs requests one at a time', async () => {
    const stub = await start({ parallel: 1, latencyMs: 60 });
    await Promise.all([1, 2].map(async () => (await post(stub, '/api/chat', chatBody())).text()));

    const [first, second] = [...stub.requests].sort((a, b) => a.slotAcquiredAt! - b.slotAcquiredAt!);
    expect(second!.slotAcquiredAt!).toBeGreaterThanOrEqual(first!.completedAt!);
    expect(stub.maxConcurrent).toBe(1);
  });

  it('parallel 2 runs requests together', async () => {
    const stub = await start({ parallel: 2, latencyMs: 60 });
    await Promise.all([1, 2].map(async () => (await post(stub, '/api/chat', chatBody())).text()));
    expect(stub.maxConcurrent).toBe(2);
  });

  it('client disconnect frees the slot', async () => {
    const stub = await start({ parallel: 1, slowHeadersMs: 10_000 });
    stub.enqueueModes('slow_headers');
    const aborted = post(stub, '/api/chat', chatBody(), { signal: AbortSignal.timeout(100) });
    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' });

    const started = Date.now();
    await (await post(stub, '/api/chat', chatBody())).text();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => stub.requests[0]!.clientAborted).toBe(true);
  });

  it('cold load delays once, reloads on num_ctx change', async () => {
    const stub = await start({ loadMs: 80 });
    const finalChunk = async (numCtx: number) => {
      const lines = ndjsonLines(await (await post(stub, '/api/chat', chatBody({ options: { num_ctx: numCtx } }))).text());
      return lines.at(-1)!;
    };
    // Timers may fire a millisecond early against performance.now(), hence 75 ms, not 80.
    expect((await finalChunk(8192)).load_duration).toBeGreaterThanOrEqual(75e6);
    expect((await finalChunk(8192)).load_duration ?? 0).toBeLessThan(40e6);
    expect(stub.loadCount).toBe(1);
    expect((await finalChunk(4096)).load_duration).toBeGreaterThanOrEqual(75e6);
    expect(stub.loadCount).toBe(2);
  });

  it('latencyMs delays the headers', async () => {
    const stub = await start({ latencyMs: 150 });
    const started = performance.now();
    const response = await post(stub, '/api/chat', chatBody());
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    await response.text();
  });
});
