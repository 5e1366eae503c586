/**
 * Failure of one job stage, carrying a stable machine-readable `code` that ends up in
 * `GET /status/:id`, in the callback payload and in metrics. Callers branch on `code`
 * and `retryable`, never on the message text. The message is shown to the sender, so it
 * states what went wrong and what they can do, and never quotes resume text or secrets.
 */
export class JobError extends Error {
  override readonly name = 'JobError';
  readonly code: string;
  /** True when the same job may succeed if run again later (a busy or unreachable service). */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Checks by `instanceof` and by `name`, so errors rebuilt from another realm or thread still match. */
export function isJobError(error: unknown): error is JobError {
  return error instanceof JobError || (error instanceof Error && error.name === 'JobError' && 'code' in error);
}
