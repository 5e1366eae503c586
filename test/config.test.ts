import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseApiKeys } from '../src/config/index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Random per run, so they are long enough for production and published nowhere. */
const STRONG_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const STRONG_KEY = randomBytes(24).toString('hex');
const PRODUCTION = {
  ENVIRONMENT: 'production',
  WEBHOOK_API_KEY: `cloud:${STRONG_KEY}`,
  WEBHOOK_SECRET: STRONG_SECRET,
  IP_ALLOWLIST: '203.0.113.0/24',
};

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ ENVIRONMENT: 'development' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      ollamaHost: 'http://127.0.0.1:11434',
      ollamaModel: 'llama3.1:8b',
      outboundAllowPrivate: false,
      workerCount: 1,
      logLevel: 'debug',
    });
    expect(config.callbackSecrets).toEqual([]);
  });

  it('uses the preset of the environment unless a variable overrides it', () => {
    expect(loadConfig({ ENVIRONMENT: 'testing' }).logLevel).toBe('silent');
    expect(loadConfig({ ENVIRONMENT: 'testing', LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
  });

  it('names the variable, the problem and the fix', () => {
    const message = configError({ ENVIRONMENT: 'development', WEBHOOK_PORT: 'eighty' });
    expect(message).toContain('WEBHOOK_PORT');
    expect(message).toContain('"eighty"');
    expect(message).toContain('whole number');
  });

  it('rejects an unknown environment name', () => {
    expect(configError({ ENVIRONMENT: 'staging' })).toContain('ENVIRONMENT');
  });

  it('rejects a non-http OLLAMA_HOST with the fix', () => {
    const message = configError({ ENVIRONMENT: 'development', OLLAMA_HOST: 'ftp://127.0.0.1' });
    expect(message).toContain('OLLAMA_HOST');
    expect(message).toContain('http://127.0.0.1:11434');
  });

  it('defaults CALLBACK_SECRET to the webhook secrets', () => {
    const config = loadConfig({ ENVIRONMENT: 'development', WEBHOOK_SECRET: `${SECRET} ${SECRET}` });
    expect(config.webhookSecrets).toHaveLength(2);
    expect(config.callbackSecrets).toEqual(config.webhookSecrets);
  });

  it('never echoes a secret value in an error', () => {
    const message = configError({ ENVIRONMENT: 'development', WEBHOOK_API_KEY: 'name:short' });
    expect(message).not.toContain('short"');
    expect(message).toContain('shorter than 16');
  });
});

describe('production', () => {
  it('refuses to start without an API key and a secret', () => {
    const message = configError({ ENVIRONMENT: 'production' });
    expect(message).toContain('WEBHOOK_API_KEY is missing');
    expect(message).toContain('WEBHOOK_SECRET is missing');
  });

  it('refuses OUTBOUND_ALLOW_PRIVATE', () => {
    const message = configError({ ...PRODUCTION, OUTBOUND_ALLOW_PRIVATE: 'true' });
    expect(message).toContain('OUTBOUND_ALLOW_PRIVATE');
  });

  it('starts with a strong key, secret and allowlist', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.apiKeys).toEqual([{ name: 'cloud', key: STRONG_KEY }]);
    expect(config.ipAllowlist).toEqual(['203.0.113.0/24']);
    expect(config.trustedProxies).toEqual(['127.0.0.0/8', '::1']);
  });

  it('refuses the secret published in the README and tests', () => {
    const message = configError({ ...PRODUCTION, WEBHOOK_SECRET: SECRET });
    expect(message).toContain('WEBHOOK_SECRET: secret 1 of 1 is a published example value');
    expect(message).toContain('openssl rand -base64 32');
    expect(message).not.toContain(SECRET);
  });

  it('refuses a secret shorter than 32 bytes', () => {
    const message = configError({ ...PRODUCTION, WEBHOOK_SECRET: `${STRONG_SECRET} whsec_${randomBytes(24).toString('base64')}` });
    expect(message).toContain('WEBHOOK_SECRET: secret 2 of 2 decodes to a 24-byte key');
    expect(message).toContain('at least 32 bytes');
  });

  it('checks a separate CALLBACK_SECRET too', () => {
    const message = configError({ ...PRODUCTION, CALLBACK_SECRET: `whsec_${randomBytes(24).toString('base64')}` });
    expect(message).toContain('CALLBACK_SECRET: secret 1 of 1 decodes to a 24-byte key');
  });

  it('refuses an API key shorter than 32 characters', () => {
    const message = configError({ ...PRODUCTION, WEBHOOK_API_KEY: `cloud:${STRONG_KEY},alice:${randomBytes(10).toString('hex')}` });
    expect(message).toContain('the key named "alice" has 20 characters; production requires at least 32');
    expect(message).toContain('openssl rand -hex 32');
  });

  it('refuses published and placeholder API keys', () => {
    for (const key of ['test-key-0123456789abcdef', 'dev-key-0123456789abcdef', 'x'.repeat(40), `example-${STRONG_KEY}`]) {
      const message = configError({ ...PRODUCTION, WEBHOOK_API_KEY: `cloud:${key}` });
      expect(message).toContain('the key named "cloud" is a published example or placeholder value');
      expect(message).not.toContain(key);
    }
  });

  it('refuses an empty IP allowlist unless explicitly disabled', () => {
    const message = configError({ ...PRODUCTION, IP_ALLOWLIST: '' });
    expect(message).toContain('IP_ALLOWLIST is empty');
    expect(message).toContain('IP_ALLOWLIST_DISABLED=true');
    expect(loadConfig({ ...PRODUCTION, IP_ALLOWLIST: '', IP_ALLOWLIST_DISABLED: 'true' }).ipAllowlistDisabled).toBe(true);
  });
});

describe('IP rules', () => {
  it('accepts addresses and CIDR ranges of both families', () => {
    const config = loadConfig({
      ENVIRONMENT: 'development',
      IP_ALLOWLIST: ' 203.0.113.0/24, 198.51.100.9 ,2001:db8::/32,::ffff:192.0.2.0/120',
      TRUSTED_PROXIES: '10.1.2.3/32',
    });
    expect(config.ipAllowlist).toEqual(['203.0.113.0/24', '198.51.100.9', '2001:db8::/32', '::ffff:192.0.2.0/120']);
    expect(config.trustedProxies).toEqual(['10.1.2.3/32']);
  });

  it.each([
    ['IP_ALLOWLIST', '203.0.113.0/24,203.0.113.300', '"203.0.113.300" is not an IPv4 or IPv6 address'],
    ['IP_ALLOWLIST', '203.0.113.0/33', '"203.0.113.0/33" has an invalid prefix length; use /0 to /32'],
    ['IP_ALLOWLIST', '2001:db8::/129', '"2001:db8::/129" has an invalid prefix length; use /0 to /128'],
    ['IP_ALLOWLIST', 'example.com', '"example.com" is not an IPv4 or IPv6 address'],
    ['TRUSTED_PROXIES', '127.0.0.1/x', '"127.0.0.1/x" has an invalid prefix length'],
  ])('names the invalid %s entry %s', (variable, value, expected) => {
    const message = configError({ ENVIRONMENT: 'development', [variable]: value });
    expect(message).toContain(`${variable}: entry ${expected}`);
  });
});

describe('parseApiKeys', () => {
  it('reads a bare key as the key named default', () => {
    expect(parseApiKeys('0123456789abcdef')).toEqual([{ name: 'default', key: '0123456789abcdef' }]);
  });

  it('reads name:key pairs', () => {
    expect(parseApiKeys('cloud:0123456789abcdef, alice:fedcba9876543210')).toEqual([
      { name: 'cloud', key: '0123456789abcdef' },
      { name: 'alice', key: 'fedcba9876543210' },
    ]);
  });

  it('rejects a name used twice', () => {
    expect(() => parseApiKeys('a:0123456789abcdef,a:fedcba9876543210')).toThrow(/used twice/);
  });
});

describe('Firebase settings', () => {
  it('turns Firestore sync on only with a project id', () => {
    expect(loadConfig({ ENVIRONMENT: 'development' }).firestoreSync).toBe(false);
    expect(loadConfig({ ENVIRONMENT: 'development', FIREBASE_PROJECT_ID: 'my-project' }).firestoreSync).toBe(true);
    expect(loadConfig({ ENVIRONMENT: 'development', FIREBASE_PROJECT_ID: 'my-project', FIRESTORE_SYNC: 'false' }).firestoreSync).toBe(false);
  });

  it('applies the Firestore retry defaults', () => {
    const config = loadConfig({ ENVIRONMENT: 'development', FIREBASE_PROJECT_ID: 'my-project' });
    expect(config.firestoreMaxAttempts).toBe(10);
    expect(config.firestoreRetryBaseDelayMs).toBe(5000);
    expect(config.firestoreTimeoutMs).toBe(30_000);
  });

  it('rejects an invalid project id', () => {
    const message = configError({ ENVIRONMENT: 'development', FIREBASE_PROJECT_ID: 'My Project' });
    expect(message).toContain('FIREBASE_PROJECT_ID');
    expect(message).toContain('Project settings');
  });

  it('rejects a bucket given as a gs:// URL', () => {
    const message = configError({ ENVIRONMENT: 'development', FIREBASE_STORAGE_BUCKET: 'gs://my-project.appspot.com' });
    expect(message).toContain('without gs://');
  });

  it('rejects an unreadable credentials file', () => {
    const message = configError({ ENVIRONMENT: 'development', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/key.json' });
    expect(message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(message).toContain('/nonexistent/key.json');
  });
});
