/**
 * Turns the raw text of a model response into a validated object, or into a list of problems
 * that the repair request shows the model.
 */
import type { z } from 'zod';

/** Outcome of {@link parseModelOutput}. */
export type ParsedOutput<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      /** One line per problem for the repair request, e.g. `years_experience: Invalid input: expected number, received string`. */
      problems: string[];
      /**
       * The same problems for error messages and logs. Unlike `problems`, it never quotes the
       * model output, which may repeat resume text (JSON.parse errors quote their input).
       */
      summary: string[];
      /** Dotted paths of the failing fields, or `(output)` when the text is not a JSON object at all. */
      fields: string[];
    };

/** Matches one Markdown code fence around the whole output, with an optional language tag. */
const OUTER_FENCE = /^\s*```[A-Za-z0-9_-]*[ \t]*\r?\n([\s\S]*?)\r?\n?[ \t]*```\s*$/;

/** Removes one Markdown code fence around the whole text, if present. */
export function stripOuterFence(text: string): string {
  const match = OUTER_FENCE.exec(text);
  return match ? match[1]! : text;
}

/** Formats a zod issue path as `a.b[2].c`, or `(root)` for the object itself. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let formatted = '';
  for (const key of path) {
    if (typeof key === 'number') formatted += `[${key}]`;
    else formatted += formatted === '' ? String(key) : `.${String(key)}`;
  }
  return formatted;
}

/**
 * Parses and validates a model response. The text is accepted only as a JSON object, optionally
 * inside one Markdown fence. Prose around the JSON is rejected rather than searched for an
 * object, because a model that ignored the format constraint may also have ignored the rules.
 * `doneReason` `length` means the output was cut off, which is reported even when the cut text
 * happens to parse.
 */
export function parseModelOutput<S extends z.ZodType>(
  text: string,
  doneReason: string | undefined,
  schema: S,
): ParsedOutput<z.output<S>> {
  if (text.trim() === '') {
    return { ok: false, problems: ['The answer was empty.'], summary: ['the answer was empty'], fields: ['(output)'] };
  }
  const cutOff = doneReason === 'length';
  const truncation = cutOff
    ? ['The answer was cut off because it reached the token limit (done_reason "length"); return a shorter, complete object.']
    : [];
  const truncationSummary = cutOff ? ['the answer was cut off at num_predict (done_reason "length")'] : [];

  let data: unknown;
  try {
    data = JSON.parse(stripOuterFence(text));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      problems: [...truncation, `The answer is not valid JSON (${reason}). Return only the JSON object, without any other text.`],
      summary: [...truncationSummary, 'the answer is not valid JSON'],
      fields: ['(output)'],
    };
  }

  const result = schema.safeParse(data);
  if (result.success && truncation.length === 0) return { ok: true, value: result.data };

  const issues = result.success ? [] : result.error.issues;
  const issueLines = issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  return {
    ok: false,
    problems: [...truncation, ...issueLines],
    summary: [...truncationSummary, ...issueLines],
    fields: issues.length > 0 ? [...new Set(issues.map((issue) => formatPath(issue.path)))] : ['(output)'],
  };
}
