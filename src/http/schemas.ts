import { z } from 'zod';
import type { $ZodError } from 'zod/v4/core';

/** Size caps of a request, from RESUME_TEXT_MAX_CHARS, RECRUITER_COMMENTS_MAX_CHARS and BATCH_MAX_CANDIDATES. */
export interface RequestLimits {
  /** Largest `resume_text`, in characters; a longer resume should be sent as a file. */
  resumeTextMaxChars: number;
  /** Largest `recruiter_comments`, in characters. */
  recruiterCommentsMaxChars: number;
  /** Largest number of candidates in one batch request. */
  batchMaxCandidates: number;
}

const identifier = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .min(1, { error: `${field} must not be empty` })
    .max(128, { error: `${field} must be at most 128 characters` })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/, {
      error: `${field} may contain only letters, digits and _ . : @ -, starting with a letter or digit`,
    });

const PRIORITY_WORDS = { low: 1, medium: 2, high: 3 } as const;

/** Accepts 1 (low), 2 (medium), 3 (high) or the words; the higher number is served first. */
export const prioritySchema = z
  .union([z.literal(1), z.literal(2), z.literal(3), z.enum(['low', 'medium', 'high'])], {
    error: 'priority must be 1 (low), 2 (medium), 3 (high), or "low", "medium", "high"',
  })
  .transform((value) => (typeof value === 'number' ? value : PRIORITY_WORDS[value]));

const httpUrl = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .max(2048, { error: `${field} must be at most 2048 characters` })
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
      error: `${field} must be an absolute http:// or https:// URL`,
    });

/** Like `httpUrl`, but also accepts Cloud Storage `gs://bucket/object` URLs. */
const fileUrl = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .max(2048, { error: `${field} must be at most 2048 characters` })
    .refine((value) => URL.canParse(value) && /^(?:https?|gs):$/.test(new URL(value).protocol), {
      error: `${field} must be an absolute http://, https:// or gs:// URL`,
    });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Free text of at most `max` characters. A NUL character or a lone UTF-16 surrogate (from
 * an unpaired `\ud800`-style escape) is rejected: neither is text, and a lone surrogate
 * cannot be encoded as UTF-8 for the model or the callback without being replaced.
 */
const freeText = (field: string, max: number, tooLong: string) =>
  z
    .string({ error: `${field} must be a string` })
    .max(max, { error: tooLong })
    .refine((value) => !value.includes('\u0000'), { error: `${field} contains a NUL character (\\u0000); remove it` })
    .refine((value) => !LONE_SURROGATE.test(value), {
      error: `${field} contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape); send valid Unicode`,
    });

const buildCandidateSchema = (limits: RequestLimits) =>
  z
    .strictObject(
      {
        candidate_id: identifier('candidate_id'),
        name: freeText('name', 200, 'name must be at most 200 characters').optional(),
        resume_text: freeText(
          'resume_text',
          limits.resumeTextMaxChars,
          `resume_text must be at most ${limits.resumeTextMaxChars} characters (RESUME_TEXT_MAX_CHARS); send longer resumes as resume_file_url`,
        ).optional(),
        resume_file_url: fileUrl('resume_file_url').optional(),
        recruiter_comments: freeText(
          'recruiter_comments',
          limits.recruiterCommentsMaxChars,
          `recruiter_comments must be at most ${limits.recruiterCommentsMaxChars} characters (RECRUITER_COMMENTS_MAX_CHARS); shorten them`,
        ).optional(),
        role_level: freeText('role_level', 64, 'role_level must be at most 64 characters').optional(),
        priority: prioritySchema.optional(),
        metadata: z.record(z.string(), z.unknown(), { error: 'metadata must be an object' }).optional(),
      },
      { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'data must be an object') },
    )
    .refine(
      (data) => Boolean(data.resume_text?.trim() || data.resume_file_url || data.recruiter_comments?.trim()),
      { error: 'give at least one of resume_text, resume_file_url or recruiter_comments', path: [] },
    );

const timeoutSchema = z
  .number({ error: 'timeout must be a number of seconds' })
  .int({ error: 'timeout must be a whole number of seconds' })
  .min(30, { error: 'timeout must be at least 30 seconds' })
  .max(3600, { error: 'timeout must be at most 3600 seconds' });

const envelope = {
  request_id: identifier('request_id'),
  callback_url: httpUrl('callback_url').optional(),
  timeout: timeoutSchema.default(300),
};

/**
 * Builds the request schemas with the size caps of the configuration. Unknown fields are
 * rejected everywhere, so a misspelt field name fails instead of being ignored.
 */
export function createRequestSchemas(limits: RequestLimits) {
  const candidate = buildCandidateSchema(limits);
  const processCandidate = z.strictObject({
    ...envelope,
    action: z.literal('process_candidate', { error: 'action must be "process_candidate" on this route' }),
    data: candidate,
  });

  type CandidateList = z.infer<typeof candidate>[];
  const candidateList = z
    .array(candidate, { error: 'data must be a list of candidates or { candidates: [...] }' })
    .min(1, { error: 'a batch needs at least one candidate' })
    .max(limits.batchMaxCandidates, {
      error: `a batch may hold at most ${limits.batchMaxCandidates} candidates (BATCH_MAX_CANDIDATES); split it`,
    })
    .refine((list) => new Set(list.map((candidate) => candidate.candidate_id)).size === list.length, {
      error: 'each candidate_id may appear only once in a batch',
    });

  const wrappedList = z.strictObject({ candidates: candidateList }, { error: 'data must be a list of candidates or { candidates: [...] }' });

  // The form is chosen by the shape of `data` instead of a z.union, because a union that
  // fails reports only its own message and hides the inner problem (a wrong field, too
  // many candidates). The inner issues keep their codes and get the `data` path prefix.
  const batchData = z.unknown().transform((value, ctx) => {
    const wrapped = value !== null && typeof value === 'object' && !Array.isArray(value);
    const result = wrapped ? wrappedList.safeParse(value, { reportInput: true }) : candidateList.safeParse(value, { reportInput: true });
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue });
      return z.NEVER;
    }
    return wrapped ? (result.data as { candidates: CandidateList }).candidates : (result.data as CandidateList);
  });

  const processBatch = z.strictObject({
    ...envelope,
    action: z.literal('process_batch', { error: 'action must be "process_batch" on this route' }),
    data: batchData,
  });

  return { candidate, processCandidate, processBatch };
}

export type RequestSchemas = ReturnType<typeof createRequestSchemas>;

export type CandidateData = z.infer<RequestSchemas['candidate']>;
export type ProcessCandidateRequest = z.infer<RequestSchemas['processCandidate']>;
export type ProcessBatchRequest = z.infer<RequestSchemas['processBatch']>;

/** Field-level problems of a failed validation, with dotted paths such as `data.candidate_id`. */
export function describeIssues(error: $ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(body)';
    if (issue.code === 'unrecognized_keys') {
      return { field, message: `unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}; remove them` };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return { field, message: `${field} is required` };
    }
    return { field, message: issue.message };
  });
}
