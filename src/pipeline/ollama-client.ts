/**
 * One streamed Ollama chat call with a deadline, error classification and retries.
 *
 * Requests go through the `ollama` client with undici's `fetch` and an undici `Agent` whose
 * header and body timeouts are off (0). Node's built-in fetch gives up after 300 s without
 * response headers, and Ollama sends headers only with the first token, after queue wait, model
 * load and prompt evaluation. Our own AbortSignal deadline per call replaces those timeouts,
 * so a slow model fails as `ollama_timeout` and never as an unreachable server.
 * `fetch` and `Agent` come from the same undici package because an Agent from one undici major
 * handed to another major's fetch fails with `UND_ERR_INVALID_ARG`.
 */
import { Ollama } from 'ollama';
import type { AbortableAsyncIterator, ChatResponse, Message } from 'ollama';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { JobError } from '../errors.js';
import type { JsonSchemaObject } from './analysis-schema.js';
import type { ChatMessage } from './prompts.js';

/** Settings of {@link OllamaChatClient}. */
export interface OllamaChatClientOptions {
  /** Base URL of the Ollama server, e.g. `http://127.0.0.1:11434`. Give the port: ollama-js maps a URL without one to port 80. */
  host: string;
  /** Model name as `ollama list` shows it, e.g. `llama3.1:8b`. */
  model: string;
  /** Deadline in ms for one attempt, from sending the request to the last streamed chunk. */
  timeoutMs: number;
  /** Retries after a busy, crashed or unreachable server; the first attempt is not counted. Default 3. */
  maxRetries?: number;
  /** First backoff delay in ms; it doubles on each retry up to 10 s and gets up to 50% jitter. Default 500. */
  retryBaseDelayMs?: number;
  logger: Logger;
}

/** The parts of one chat request that vary between calls; the model and `stream: true` are fixed. */
export interface ChatCallRequest {
  messages: ChatMessage[];
  format: JsonSchemaObject;
  options: { num_ctx: number; num_predict: number; temperature: number; seed: number };
  keep_alive: string | number;
}

/** Text and metrics of a finished call. Durations are in nanoseconds, as Ollama reports them. */
export interface ChatCallResult {
  content: string;
  /** `stop`, or `length` when `num_predict` or the context ran out. */
  doneReason: string | undefined;
  /** Tokens evaluated for the prompt; Ollama leaves the field out when it is 0, and then this is 0. */
  promptEvalCount: number;
  evalCount: number;
  evalDurationNs: number;
  totalDurationNs: number;
}

/** Ollama reachability and model presence, as `checkHealth` reports them. */
export interface OllamaHealth {
  reachable: boolean;
  modelPresent: boolean;
  /** Server version from `/api/version`, when reachable. */
  version?: string;
  /** Description of the problem and its fix; absent when the server is reachable and has the model. */
  error?: string;
}

/** Maximum backoff delay in ms between two attempts. */
const MAX_BACKOFF_MS = 10_000;

/** Deadline in ms for the two small health-check requests. */
const HEALTH_TIMEOUT_MS = 5_000;

/** Message of the runner crash that Ollama returns as 500 or as a mid-stream error line. */
const RUNNER_STOPPED = 'model runner has unexpectedly stopped';

/** Message ollama-js throws when the stream ends before a `done` chunk (the runner's repeat detector does that). */
const STREAM_WITHOUT_DONE = 'Did not receive done or success response in stream';

/**
 * HTTP statuses worth another attempt. 503 is Ollama's full scheduling queue. 429, 502 and 504
 * come from proxies or hosted Ollama in front of the server. A 500 is retried only for a runner
 * crash (see {@link classifyOllamaError}); other 500s are invalid requests such as a bad format.
 */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** Node socket error codes that mean the server is down or went away. */
const RETRYABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Kind of failure of one attempt, which decides between another attempt and a `JobError`. */
export type OllamaFailure =
  | { kind: 'model_not_found'; detail: string }
  | { kind: 'retryable'; detail: string }
  | { kind: 'fatal'; detail: string; status?: number };

function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * Sorts an error from ollama-js or undici into a failure kind. ollama-js does not export its
 * `ResponseError`, so HTTP errors are recognised by `name` and `status_code`. Errors from the
 * stream body arrive as plain `Error`s that carry only the server's message.
 */
export function classifyOllamaError(error: unknown): OllamaFailure {
  const detail = error instanceof Error ? error.message : String(error);
  const status = (error as { status_code?: unknown } | undefined)?.status_code;

  if (error instanceof Error && error.name === 'ResponseError' && typeof status === 'number') {
    // A 404 from a server that is not Ollama ("404 page not found") is a wrong host, not a missing model.
    if (status === 404 && /^model ['"].*['"] not found/.test(detail)) return { kind: 'model_not_found', detail };
    if (RETRYABLE_STATUSES.has(status)) return { kind: 'retryable', detail: `HTTP ${status}: ${detail}` };
    if (status === 500 && detail.includes(RUNNER_STOPPED)) return { kind: 'retryable', detail: `HTTP 500: ${detail}` };
    return { kind: 'fatal', detail: `HTTP ${status}: ${detail}`, status };
  }

  const code = causeCode(error);
  if (code !== undefined && (code.startsWith('UND_ERR_') || RETRYABLE_SOCKET_CODES.has(code))) {
    return { kind: 'retryable', detail: `${detail} (${code})` };
  }
  if (detail === 'fetch failed' || detail.includes(STREAM_WITHOUT_DONE) || detail.includes(RUNNER_STOPPED)) {
    return { kind: 'retryable', detail };
  }
  return { kind: 'fatal', detail };
}

/** Returns the URL without user info, so a host with basic-auth credentials can go into messages. */
function redactHost(host: string): string {
  try {
    const url = new URL(host.includes('://') ? host : `http://${host}`);
    url.username = '';
    url.password = '';
    return url.origin;
  } catch {
    return '(invalid host)';
  }
}

function normalizeModelName(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Streams chat calls to one Ollama model. Create one per process: it owns the undici connection
 * pool, which `close()` shuts down.
 */
export class OllamaChatClient {
  readonly #agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  readonly #host: string;
  readonly #model: string;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #logger: Logger;

  constructor(options: OllamaChatClientOptions) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new TypeError(`timeoutMs must be a positive number of milliseconds, got ${options.timeoutMs}`);
    }
    this.#host = options.host;
    this.#model = options.model;
    this.#timeoutMs = options.timeoutMs;
    this.#maxRetries = Math.max(0, options.maxRetries ?? 3);
    this.#retryBaseDelayMs = Math.max(0, options.retryBaseDelayMs ?? 500);
    this.#logger = options.logger;
  }

  /**
   * Returns an ollama-js client whose every request is bound to `signal`. ollama-js passes no
   * signal of its own to non-streamed requests and uses its own for streamed ones, so the two
   * are combined here.
   */
  #clientFor(signal: AbortSignal): Ollama {
    const agent = this.#agent;
    const boundFetch = (input: string | URL, init?: RequestInit) =>
      undiciFetch(input, {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher: agent,
        signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
      });
    // undici's Response type differs from the DOM lib's in name only; ollama-js only reads
    // status, headers, json(), text() and body.getReader(), which both provide.
    return new Ollama({ host: this.#host, fetch: boundFetch as unknown as typeof fetch });
  }

  /**
   * Sends one chat request, streamed, and retries busy, crashed or unreachable servers with
   * exponential backoff. Throws `JobError` with code `model_not_found`, `ollama_timeout`,
   * `ollama_unavailable` or `ollama_error`. An abort of `callerSignal` is rethrown unchanged
   * and never retried.
   */
  async chat(request: ChatCallRequest, callerSignal?: AbortSignal): Promise<ChatCallResult> {
    const attempts = this.#maxRetries + 1;
    for (let attempt = 1; ; attempt += 1) {
      let failure: OllamaFailure;
      try {
        return await this.#attempt(request, callerSignal);
      } catch (error) {
        if (callerSignal?.aborted || error instanceof JobError) throw error;
        failure = classifyOllamaError(error);
        if (failure.kind === 'model_not_found') {
          throw new JobError('model_not_found', `Ollama has no model "${this.#model}"; run \`ollama pull ${this.#model}\``, {
            cause: error,
          });
        }
        if (failure.kind === 'fatal') {
          throw new JobError('ollama_error', `Ollama rejected the request for model "${this.#model}": ${failure.detail}`, {
            cause: error,
          });
        }
        if (attempt >= attempts) {
          throw new JobError(
            'ollama_unavailable',
            `Ollama at ${redactHost(this.#host)} is unavailable after ${attempts} attempts (${failure.detail}); check that the server runs and OLLAMA_HOST points to it`,
            { retryable: true, cause: error },
          );
        }
      }

      const delayMs = this.#backoffMs(attempt);
      this.#logger.warn({ attempt, attempts, delay_ms: delayMs, reason: failure.detail }, 'Ollama call failed, retrying');
      await sleep(delayMs, callerSignal);
    }
  }

  #backoffMs(attempt: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, this.#retryBaseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  async #attempt(request: ChatCallRequest, callerSignal: AbortSignal | undefined): Promise<ChatCallResult> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
    const client = this.#clientFor(signal);
    let stream: AbortableAsyncIterator<ChatResponse> | undefined;

    try {
      stream = await client.chat({
        model: this.#model,
        messages: request.messages as Message[],
        format: request.format,
        options: request.options,
        keep_alive: request.keep_alive,
        stream: true,
      });

      // The done chunk may carry the last piece of text, so every chunk's content counts.
      let content = '';
      let final: ChatResponse | undefined;
      for await (const chunk of stream) {
        content += chunk.message?.content ?? '';
        if (chunk.done) final = chunk;
      }
      return {
        content,
        doneReason: final?.done_reason || undefined,
        promptEvalCount: final?.prompt_eval_count ?? 0,
        evalCount: final?.eval_count ?? 0,
        evalDurationNs: final?.eval_duration ?? 0,
        totalDurationNs: final?.total_duration ?? 0,
      };
    } catch (error) {
      if (deadline.aborted && !callerSignal?.aborted) {
        throw new JobError(
          'ollama_timeout',
          `Ollama model "${this.#model}" did not finish within ${this.#timeoutMs} ms; raise the model call timeout or reduce the load on the server`,
          { retryable: true, cause: error },
        );
      }
      throw error;
    } finally {
      // Leaving the loop early does not close the connection, and Ollama would keep generating.
      stream?.abort();
    }
  }

  /** Checks that the server responds and that the model is pulled. Never throws. */
  async health(): Promise<OllamaHealth> {
    const client = this.#clientFor(AbortSignal.timeout(Math.min(this.#timeoutMs, HEALTH_TIMEOUT_MS)));
    const host = redactHost(this.#host);

    let version: string;
    try {
      ({ version } = await client.version());
    } catch (error) {
      const failure = classifyOllamaError(error);
      return {
        reachable: false,
        modelPresent: false,
        error: `Ollama at ${host} is not reachable (${failure.detail}); start it with \`ollama serve\` or fix OLLAMA_HOST`,
      };
    }

    try {
      const { models } = await client.list();
      const expected = normalizeModelName(this.#model);
      const modelPresent = models.some((entry) => normalizeModelName(entry.name) === expected || normalizeModelName(entry.model) === expected);
      if (modelPresent) return { reachable: true, modelPresent, version };
      return { reachable: true, modelPresent, version, error: `Ollama has no model "${this.#model}"; run \`ollama pull ${this.#model}\`` };
    } catch (error) {
      return { reachable: true, modelPresent: false, version, error: `Listing models at ${host} failed: ${classifyOllamaError(error).detail}` };
    }
  }

  /** Closes pooled connections. Calls made afterwards fail. */
  close(): Promise<void> {
    return this.#agent.close();
  }
}
