/**
 * Parser for cloudflared's console log lines, the zerolog console format that cloudflared
 * writes to stderr unless `--output json` is given:
 *
 *   2024-01-01T00:00:00Z INF Registered tunnel connection connIndex=0 connection=6e0c… event=0 ip=198.41.200.13 location=ams01 protocol=quic
 *   2024-01-01T00:00:00Z ERR Connection terminated error="context canceled" connIndex=0
 *
 * A line is a timestamp, a three-letter level, a message and `key=value` fields, where a
 * value that contains spaces or quotes is written as a Go quoted string.
 */

/** pino level names that cloudflared's levels map to. */
export type PinoLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** One parsed cloudflared log line. */
export interface CloudflaredLogLine {
  /** Timestamp as cloudflared wrote it; absent on lines that are not in the log format, such as a Go panic trace. */
  time?: string;
  level: PinoLevel;
  message: string;
  fields: Record<string, string>;
}

/** zerolog's console abbreviations. PNC (panic) is mapped to fatal, the highest pino level. */
const LEVELS: Record<string, PinoLevel> = {
  TRC: 'trace',
  DBG: 'debug',
  INF: 'info',
  WRN: 'warn',
  ERR: 'error',
  FTL: 'fatal',
  PNC: 'fatal',
};

const LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))\s+(TRC|DBG|INF|WRN|ERR|FTL|PNC)\s+(.*)$/;
const FIELD_START = /(?:^|\s)([A-Za-z_][\w.-]*)=/;
const FIELD = /^([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)\s*/;
const QUICK_TUNNEL_URL = /https:\/\/[a-z0-9-]+\.trycloudflare\.com/;
const METRICS_ADDRESS = /^Starting metrics server on (\S+)\/metrics$/;

/**
 * Parses one line of cloudflared output. A line that is not in the log format keeps its
 * text as the message at level `info`, because cloudflared also prints plain lines (its
 * usage text, a panic's stack) that are still worth keeping.
 */
export function parseCloudflaredLine(line: string): CloudflaredLogLine {
  const text = line.trimEnd();
  const match = LINE.exec(text);
  if (!match) return { level: 'info', message: text, fields: {} };

  const [, time, abbreviation, rest] = match as unknown as [string, string, string, string];
  const level = LEVELS[abbreviation] ?? 'info';

  // The quick-tunnel banner is drawn as a box of `|`-framed lines; the fields parser must not
  // read anything into them.
  if (rest.startsWith('|') || rest.startsWith('+')) {
    return { time, level, message: rest.replace(/^\|\s*|\s*\|$/g, ''), fields: {} };
  }

  const start = FIELD_START.exec(rest);
  if (!start) return { time, level, message: rest.trim(), fields: {} };

  const message = rest.slice(0, start.index).trim();
  return { time, level, message, fields: parseFields(rest.slice(start.index).trim()) };
}

function parseFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const match = FIELD.exec(rest);
    if (!match) {
      // Text that does not fit the key=value shape is kept rather than dropped.
      fields.rest = rest;
      break;
    }
    const [whole, key, raw] = match as unknown as [string, string, string];
    fields[key] = raw.startsWith('"') ? unquote(raw) : raw;
    rest = rest.slice(whole.length);
  }
  return fields;
}

/** Go's %q output is valid JSON for the escapes that occur in log values; anything else stays quoted as written. */
function unquote(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, -1);
  }
}

/** Returns the `https://<name>.trycloudflare.com` address a quick tunnel prints in its banner, if this line contains it. */
export function findQuickTunnelUrl(line: CloudflaredLogLine): string | undefined {
  return QUICK_TUNNEL_URL.exec(line.message)?.[0];
}

/** Returns the `host:port` from `Starting metrics server on <addr>/metrics`, the address cloudflared actually bound. */
export function findMetricsAddress(line: CloudflaredLogLine): string | undefined {
  return METRICS_ADDRESS.exec(line.message)?.[1];
}

/** Kind of change to the tunnel's edge connections that a log line reports. */
export type ConnectionEvent = { kind: 'registered' | 'unregistered'; index: string; location?: string };

/**
 * Recognises connection registration and loss. cloudflared logs `Registered tunnel
 * connection` once per edge connection, and `Unregistered tunnel connection` or
 * `Connection terminated` when one drops; each carries `connIndex`.
 */
export function findConnectionEvent(line: CloudflaredLogLine): ConnectionEvent | undefined {
  const index = line.fields.connIndex;
  if (index === undefined) return undefined;
  if (line.message === 'Registered tunnel connection') {
    return { kind: 'registered', index, ...(line.fields.location ? { location: line.fields.location } : {}) };
  }
  if (line.message === 'Unregistered tunnel connection' || line.message.startsWith('Connection terminated')) {
    return { kind: 'unregistered', index };
  }
  return undefined;
}
