import pino, { type Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]" wherever they appear in a log object. They cover
 * credentials in headers and the candidate's own words, which must never reach a log file.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["webhook-signature"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["webhook-signature"]',
  'apiKey',
  'secret',
  'resume_text',
  'recruiter_comments',
  '*.resume_text',
  '*.recruiter_comments',
  'data.resume_text',
  'data.recruiter_comments',
];

export interface LoggerOptions {
  level: string;
  /** Pretty, human-readable lines for a developer's terminal instead of JSON. */
  pretty?: boolean;
  /** Destination of the JSON lines; tests pass a stream to capture them. Defaults to stdout. */
  destination?: pino.DestinationStream;
}

/** Creates the service's root pino logger; every request and job logs through a child of it. */
export function createLogger(options: LoggerOptions): Logger {
  const base: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'headhunter-webhook' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}

export type { Logger };
