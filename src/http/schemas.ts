import { z } from 'zod';
import type { $ZodError } from 'zod/v4/core';

/** Largest `resume_text`, in characters; a longer resume should be sent as a file. */
export const RESUME_TEXT_MAX_CHARS = 200_000;
/** Largest `recruiter_comments`, in characters. */
export const RECRUITER_COMMENTS_MAX_CHARS = 20_000;
/** Largest number of candidates in one batch request. */
export const BATCH_MAX_CANDIDATES = 100;

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

export const candidateSchema = z
  .strictObject(
    {
      candidate_id: identifier('candidate_id'),
      name: z.string({ error: 'name must be a string' }).max(200, { error: 'name must be at most 200 characters' }).optional(),
      resume_text: z
        .string({ error: 'resume_text must be a string' })
        .max(RESUME_TEXT_MAX_CHARS, {
          error: `resume_text must be at most ${RESUME_TEXT_MAX_CHARS} characters; send longer resumes as resume_file_url`,
        })
        .optional(),
      resume_file_url: fileUrl('resume_file_url').optional(),
      recruiter_comments: z
        .string({ error: 'recruiter_comments must be a string' })
        .max(RECRUITER_COMMENTS_MAX_CHARS, {
          error: `recruiter_comments must be at most ${RECRUITER_COMMENTS_MAX_CHARS} characters`,
        })
        .optional(),
      role_level: z
        .string({ error: 'role_level must be a string' })
        .max(64, { error: 'role_level must be at most 64 characters' })
        .optional(),
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

export const processCandidateSchema = z.strictObject({
  ...envelope,
  action: z.literal('process_candidate', { error: 'action must be "process_candidate" on this route' }),
  data: candidateSchema,
});

const candidateList = z
  .array(candidateSchema, { error: 'data must be a list of candidates or { candidates: [...] }' })
  .min(1, { error: 'a batch needs at least one candidate' })
  .max(BATCH_MAX_CANDIDATES, { error: `a batch may hold at most ${BATCH_MAX_CANDIDATES} candidates; split it` })
  .refine((list) => new Set(list.map((candidate) => candidate.candidate_id)).size === list.length, {
    error: 'each candidate_id may appear only once in a batch',
  });

export const processBatchSchema = z.strictObject({
  ...envelope,
  action: z.literal('process_batch', { error: 'action must be "process_batch" on this route' }),
  data: z.union([candidateList, z.strictObject({ candidates: candidateList }).transform((value) => value.candidates)], {
    error: 'data must be a list of candidates or { candidates: [...] }',
  }),
});

export type CandidateData = z.infer<typeof candidateSchema>;
export type ProcessCandidateRequest = z.infer<typeof processCandidateSchema>;
export type ProcessBatchRequest = z.infer<typeof processBatchSchema>;

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
