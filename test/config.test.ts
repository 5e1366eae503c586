import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseApiKeys } from '../src/config/index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

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
    const message = configError({
      ENVIRONMENT: 'production',
      WEBHOOK_API_KEY: 'cloud:0123456789abcdef0123',
      WEBHOOK_SECRET: SECRET,
      OUTBOUND_ALLOW_PRIVATE: 'true',
    });
    expect(message).toContain('OUTBOUND_ALLOW_PRIVATE');
  });

  it('starts with a key and a secret', () => {
    const config = loadConfig({ ENVIRONMENT: 'production', WEBHOOK_API_KEY: 'cloud:0123456789abcdef0123', WEBHOOK_SECRET: SECRET });
    expect(config.apiKeys).toEqual([{ name: 'cloud', key: '0123456789abcdef0123' }]);
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
