import type { MiddlewareHandler } from 'hono';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { CloudflareAccessConfig } from '../../config/index.js';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

/** Options for `cloudflareAccess`. */
export interface CloudflareAccessOptions {
  /** Issuer, audiences and JWKS address; undefined turns the middleware into a pass-through. */
  access: CloudflareAccessConfig | undefined;
  logger: Logger;
  /** Exact paths served without a token, e.g. `/health` for local probes. */
  skipPaths?: string[];
  /**
   * Minimum time between two JWKS downloads, in milliseconds. A token with an unknown `kid`
   * triggers a download only after this much time, so forged `kid`s cannot flood the certs
   * endpoint. Default 30 000 (jose's default); tests lower it.
   */
  refetchCooldownMs?: number;
  /** Time the downloaded keys are used before they are fetched again, in milliseconds. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** Allowed clock difference for `exp` and `nbf`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
}

/** Header in which Cloudflare Access passes the application token to the origin. */
export const ACCESS_JWT_HEADER = 'cf-access-jwt-assertion';

/** jose error codes that mean the keys could not be fetched, not that the token is bad. */
const KEY_FETCH_FAILURES = new Set(['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

/**
 * Requires a valid Cloudflare Access token in `Cf-Access-Jwt-Assertion`. The token must be
 * an RS256 JWT signed by one of the team's keys, with the team's issuer, one of the
 * configured audiences, and `exp`/`nbf` within the clock tolerance. Keys are selected by
 * `kid`, fetched from the certs URL and cached, and fetched again when a token names an
 * unknown `kid`. Other algorithms, including `none` and HS256, are rejected.
 *
 * Responses: 401 `access_token_missing` without the header, 403 `access_token_invalid`
 * when verification fails, 503 `access_keys_unavailable` when the keys cannot be fetched.
 *
 * @example
 * app.use('*', cloudflareAccess({ access: config.cloudflareAccess, logger, skipPaths: ['/health'] }));
 */
export function cloudflareAccess(options: CloudflareAccessOptions): MiddlewareHandler<AppEnv> {
  const { access } = options;
  if (!access) {
    return async function cloudflareAccess(_c, next) {
      await next();
    };
  }

  const skip = new Set(options.skipPaths ?? []);
  const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(access.certsUrl), {
    cooldownDuration: options.refetchCooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    timeoutDuration: 5000,
  });
  const verifyOptions = {
    issuer: access.issuer,
    audience: access.audiences,
    algorithms: ['RS256'],
    clockTolerance: options.clockToleranceSeconds ?? 30,
  };

  return async function cloudflareAccess(c, next) {
    if (skip.has(c.req.path)) return next();

    const token = c.req.header(ACCESS_JWT_HEADER)?.trim();
    if (!token) {
      throw new ApiError(
        401,
        'access_token_missing',
        'The Cf-Access-Jwt-Assertion header is missing; send requests through the Cloudflare Access application with a service token (CF-Access-Client-Id and CF-Access-Client-Secret)',
      );
    }

    try {
      await jwtVerify(token, keys, verifyOptions);
    } catch (error) {
      const code = error instanceof errors.JOSEError ? error.code : undefined;
      const log = c.get('log') ?? options.logger;
      if (code === undefined || KEY_FETCH_FAILURES.has(code)) {
        log.error({ err: error, certs_url: access.certsUrl }, 'fetching the Cloudflare Access keys failed');
        throw new ApiError(503, 'access_keys_unavailable', 'The Cloudflare Access signing keys could not be fetched; try again shortly');
      }
      log.warn({ reason: code, detail: (error as Error).message }, 'Cloudflare Access token rejected');
      throw new ApiError(403, 'access_token_invalid', `The Cloudflare Access token is not valid: ${describeFailure(error as errors.JOSEError)}`);
    }

    await next();
  };
}

/** Describes why jose rejected a token, without quoting the token. */
function describeFailure(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'its audience (aud) does not match CF_ACCESS_AUD';
    if (error.claim === 'iss') return 'its issuer (iss) is not the configured team domain';
    if (error.claim === 'nbf') return 'it is not valid yet (nbf)';
    return `its ${error.claim} claim is invalid`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'it is not signed with RS256';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is signed with a key (kid) the team does not publish';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  return 'it is not a well-formed signed JWT';
}
