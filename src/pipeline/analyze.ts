/**
 * The analyzer: one Ollama call per resume and one per set of recruiter comments, each
 * validated against the project's zod schema, with one repair call when the output is invalid.
 */
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { JobError } from '../errors.js';
import {
  recruiterInsightsJsonSchema,
  recruiterInsightsSchema,
  resumeAnalysisJsonSchema,
  resumeAnalysisSchema,
  type JsonSchemaObject,
  type RecruiterInsights,
  type ResumeAnalysis,
} from './analysis-schema.js';
import { parseModelOutput } from './model-output.js';
import { OllamaChatClient, type ChatCallResult, type OllamaHealth } from './ollama-client.js';
import {
  buildAnalysisMessages,
  buildRepairMessages,
  CHARS_PER_TOKEN,
  estimatePromptTokens,
  REPAIR_EXCERPT_MAX_CHARS,
  type AnalysisKind,
  type ChatMessage,
  type PromptContext,
} from './prompts.js';

export type { OllamaHealth } from './ollama-client.js';

/** Token usage of one successful model call. Durations are in nanoseconds, as Ollama reports them. */
export interface AnalysisUsage {
  kind: AnalysisKind;
  promptTokens: number;
  evalTokens: number;
  evalDurationNs: number;
  totalDurationNs: number;
}

/** Settings of {@link createAnalyzer}. */
export interface AnalyzerOptions {
  /** Base URL of the Ollama server with its port, e.g. `http://127.0.0.1:11434`. */
  host: string;
  /** Model name, e.g. `llama3.1:8b`. */
  model: string;
  /**
   * Context window in tokens, sent as `num_ctx` on every call. Keep it constant, because Ollama
   * reloads the model whenever a request sets a different value.
   */
  numCtx: number;
  /** Deadline in ms for one model call, covering queue wait, model load, prompt evaluation and generation. */
  timeoutMs: number;
  /** Retries of a busy, crashed or unreachable server per model call. Default 3. */
  maxRetries?: number;
  /** First retry delay in ms, doubled per retry with jitter. Default 500. */
  retryBaseDelayMs?: number;
  /**
   * Maximum tokens the model may generate per call (`num_predict`). An explicit limit makes a
   * cut-off output visible as `done_reason: "length"`. Default 2048.
   */
  numPredict?: number;
  /** How long Ollama keeps the model loaded after a call: a duration string or seconds. Default `30m`. */
  keepAlive?: string | number;
  /** Logger for retries, repairs and warnings; it never receives resume text or comments. Default silent. */
  logger?: Logger;
  /** Called after every successful model call, repair calls included. */
  onUsage?: (usage: AnalysisUsage) => void;
}

/** Per-call context. `signal` aborts the call; the abort error is rethrown unchanged. */
export interface AnalyzeContext extends PromptContext {
  signal?: AbortSignal;
}

/** Analysis functions bound to one Ollama server and model. */
export interface Analyzer {
  /** Extracts `resume_analysis` from resume text. */
  analyzeResume(text: string, ctx?: AnalyzeContext): Promise<ResumeAnalysis>;
  /** Extracts `recruiter_insights` from recruiter comments. */
  analyzeComments(comments: string, ctx?: AnalyzeContext): Promise<RecruiterInsights>;
  /** Reports whether Ollama responds and has the model. Never throws. */
  checkHealth(): Promise<OllamaHealth>;
  /** Closes the connection pool; later calls fail. */
  close(): Promise<void>;
}

/** Sampling settings shared by every call: deterministic output for the same input. */
const TEMPERATURE = 0;
const SEED = 42;

/**
 * A prompt_eval_count below this share of our estimate means the server evaluated far fewer
 * tokens than we sent. The estimate is meant to run high (see CHARS_PER_TOKEN), so half of it
 * leaves a wide margin.
 */
const LOW_PROMPT_EVAL_RATIO = 0.5;

/** Schema pair, label for messages and oversized-input error code of one analysis kind. */
interface AnalysisSpec<S extends z.ZodType> {
  kind: AnalysisKind;
  schema: S;
  jsonSchema: JsonSchemaObject;
  label: string;
  tooLongCode: string;
}

const RESUME_SPEC: AnalysisSpec<typeof resumeAnalysisSchema> = {
  kind: 'resume',
  schema: resumeAnalysisSchema,
  jsonSchema: resumeAnalysisJsonSchema,
  label: 'resume analysis',
  tooLongCode: 'resume_too_long',
};

const COMMENTS_SPEC: AnalysisSpec<typeof recruiterInsightsSchema> = {
  kind: 'comments',
  schema: recruiterInsightsSchema,
  jsonSchema: recruiterInsightsJsonSchema,
  label: 'recruiter comments analysis',
  tooLongCode: 'comments_too_long',
};

/**
 * Creates an analyzer for one Ollama server and model.
 *
 * Every call streams (`stream: true`) with the same `num_ctx`, `temperature: 0`, `seed: 42`, an
 * explicit `num_predict`, and the zod-generated JSON Schema as `format`. `think` is left out
 * because llama3.1 rejects it and thinking models would move the output out of `content`.
 *
 * Errors are `JobError`s with these codes:
 * - `resume_too_long` / `comments_too_long`: the prompt would not fit in `numCtx` (not retryable).
 * - `model_not_found`: the model is not pulled (not retryable).
 * - `ollama_unavailable`: busy, crashed or unreachable after all retries (retryable).
 * - `ollama_timeout`: one call exceeded `timeoutMs` (retryable).
 * - `ollama_error`: Ollama rejected the request, e.g. an invalid option (not retryable).
 * - `analysis_invalid`: the answer failed validation twice, before and after the repair call (not retryable).
 *
 * @example
 * const analyzer = createAnalyzer({ host: 'http://127.0.0.1:11434', model: 'llama3.1:8b', numCtx: 16384, timeoutMs: 120_000 });
 * const analysis = await analyzer.analyzeResume(text, { signal, roleLevel: 'senior' });
 */
export function createAnalyzer(options: AnalyzerOptions): Analyzer {
  if (!Number.isInteger(options.numCtx) || options.numCtx <= 0) {
    throw new TypeError(`numCtx must be a positive integer number of tokens, got ${options.numCtx}`);
  }
  const numPredict = options.numPredict ?? 2048;
  if (!Number.isInteger(numPredict) || numPredict <= 0 || numPredict >= options.numCtx) {
    throw new TypeError(`numPredict must be a positive integer below numCtx (${options.numCtx}), got ${numPredict}`);
  }

  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'analyzer', model: options.model });
  const keepAlive = options.keepAlive ?? '30m';
  const client = new OllamaChatClient({
    host: options.host,
    model: options.model,
    timeoutMs: options.timeoutMs,
    maxRetries: options.maxRetries,
    retryBaseDelayMs: options.retryBaseDelayMs,
    logger,
  });

  async function callModel(kind: AnalysisKind, messages: ChatMessage[], jsonSchema: JsonSchemaObject, maxTokens: number, signal?: AbortSignal) {
    const result = await client.chat(
      {
        messages,
        format: jsonSchema,
        options: { num_ctx: options.numCtx, num_predict: maxTokens, temperature: TEMPERATURE, seed: SEED },
        keep_alive: keepAlive,
      },
      signal,
    );
    checkPromptEvalCount(kind, messages, result);
    reportUsage(kind, result);
    return result;
  }

  function checkPromptEvalCount(kind: AnalysisKind, messages: ChatMessage[], result: ChatCallResult): void {
    // Ollama truncates an oversized prompt without an error, and the low count is the only sign.
    // NOTE: a prompt whose prefix Ollama reused from its prompt cache may also report a low
    // count, so this only warns and does not fail the job.
    const estimated = estimatePromptTokens(messages);
    if (result.promptEvalCount > 0 && result.promptEvalCount < estimated * LOW_PROMPT_EVAL_RATIO) {
      logger.warn(
        { kind, prompt_eval_count: result.promptEvalCount, estimated_prompt_tokens: estimated, num_ctx: options.numCtx },
        'Ollama evaluated far fewer prompt tokens than estimated; the prompt may have been truncated to num_ctx or reused from the prompt cache',
      );
    }
  }

  function reportUsage(kind: AnalysisKind, result: ChatCallResult): void {
    if (!options.onUsage) return;
    try {
      options.onUsage({
        kind,
        promptTokens: result.promptEvalCount,
        evalTokens: result.evalCount,
        evalDurationNs: result.evalDurationNs,
        totalDurationNs: result.totalDurationNs,
      });
    } catch (error) {
      logger.error({ err: error, kind }, 'onUsage callback failed');
    }
  }

  /** Tokens left for the prompt once `num_predict` is reserved. */
  const promptBudget = options.numCtx - numPredict;

  async function analyze<S extends z.ZodType>(spec: AnalysisSpec<S>, text: string, ctx: AnalyzeContext = {}): Promise<z.output<S>> {
    const log = logger.child({ kind: spec.kind });
    const messages = buildAnalysisMessages(spec.kind, text, { roleLevel: ctx.roleLevel, name: ctx.name }, spec.jsonSchema);

    const promptTokens = estimatePromptTokens(messages);
    if (promptTokens > promptBudget) {
      const maxChars = Math.max(0, Math.floor((promptBudget - (promptTokens - Math.ceil(text.length / CHARS_PER_TOKEN))) * CHARS_PER_TOKEN));
      log.warn({ input_chars: text.length, estimated_prompt_tokens: promptTokens, num_ctx: options.numCtx }, 'input too long for num_ctx');
      throw new JobError(
        spec.tooLongCode,
        `The ${spec.kind === 'resume' ? 'resume' : 'recruiter comments'} text (${text.length} characters, about ${promptTokens} prompt tokens with the instructions) ` +
          `does not fit the model context of ${options.numCtx} tokens with ${numPredict} tokens reserved for the answer; ` +
          `send at most about ${maxChars} characters or raise OLLAMA_NUM_CTX`,
      );
    }

    const first = await callModel(spec.kind, messages, spec.jsonSchema, numPredict, ctx.signal);
    const firstParse = parseModelOutput(first.content, first.doneReason, spec.schema);
    if (firstParse.ok) return firstParse.value;

    log.warn(
      { output_chars: first.content.length, done_reason: first.doneReason, problems: firstParse.problems.length, fields: firstParse.fields },
      'model output invalid, sending one repair request',
    );

    // The repair request must fit the same window, so the quoted previous output shrinks to fit.
    const repairOverhead = estimatePromptTokens(buildRepairMessages(messages, '', firstParse.problems, 0));
    const excerptChars = Math.min(REPAIR_EXCERPT_MAX_CHARS, Math.floor((promptBudget - repairOverhead) * CHARS_PER_TOKEN));
    if (excerptChars < 0) {
      throw new JobError(
        'analysis_invalid',
        `The model returned an invalid ${spec.label} (failing fields: ${firstParse.fields.join(', ')}) and the input leaves no room in num_ctx ${options.numCtx} for a repair request; raise OLLAMA_NUM_CTX`,
      );
    }
    const repairMessages = buildRepairMessages(messages, first.content, firstParse.problems, excerptChars);

    // Output cut off at num_predict gets a larger budget, as far as the context allows.
    const repairPredict =
      first.doneReason === 'length' ? Math.max(numPredict, Math.min(numPredict * 2, options.numCtx - estimatePromptTokens(repairMessages))) : numPredict;

    const second = await callModel(spec.kind, repairMessages, spec.jsonSchema, repairPredict, ctx.signal);
    const secondParse = parseModelOutput(second.content, second.doneReason, spec.schema);
    if (secondParse.ok) {
      log.info({ fields: firstParse.fields }, 'repair request fixed the model output');
      return secondParse.value;
    }

    log.warn(
      { output_chars: second.content.length, done_reason: second.doneReason, fields: secondParse.fields },
      'model output still invalid after the repair request',
    );
    const shown = secondParse.summary.slice(0, 8);
    const more = secondParse.summary.length > shown.length ? `; and ${secondParse.summary.length - shown.length} more` : '';
    throw new JobError(
      'analysis_invalid',
      `The model returned an invalid ${spec.label} twice, before and after a repair request: ${shown.join('; ')}${more}`,
    );
  }

  return {
    analyzeResume: (text, ctx) => analyze(RESUME_SPEC, text, ctx),
    analyzeComments: (comments, ctx) => analyze(COMMENTS_SPEC, comments, ctx),
    checkHealth: () => client.health(),
    close: () => client.close(),
  };
}
