import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';

import {
  generateWebhookId,
  parseSecret,
  parseSecretList,
  sign,
  signHeaders,
  SignatureError,
  verify,
  type WebhookSignatureHeaders,
} from '../src/signing/standard-webhooks.js';

// Published test vector of the Standard Webhooks JavaScript library.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const atVectorTime = { now: () => VECTOR.timestamp * 1000 };

function newSecret(length = 32): string {
  return `whsec_${randomBytes(length).toString('base64')}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Converts `signHeaders` output into the input shape of `verify`. */
function toInput(headers: ReturnType<typeof signHeaders>): WebhookSignatureHeaders {
  return { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'] };
}

function captureSignatureError(action: () => unknown): SignatureError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureError);
    return error as SignatureError;
  }
  throw new Error('expected a SignatureError');
}

function captureTypeError(action: () => unknown): TypeError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return error as TypeError;
  }
  throw new Error('expected a TypeError');
}

// Bodies whose exact bytes matter: re-serialising any of them changes the signed bytes.
const TRICKY_BODIES: Array<[string, string]> = [
  ['non-ASCII text', '{"name":"Zoë Ørsted-Müller","city":"Zürich","note":"日本語の履歴書"}'],
  ['emoji', '{"summary":"Ships fast 🚀 and mentors 👩‍💻"}'],
  ['escaped control character', '{"raw":"\\u001B[31mred\\u001B[0m","e":"\\u00e9"}'],
  ['extra spaces and newlines', '{ "a" :  1 ,\n  "b": [ 1, 2 ]\r\n}\n'],
  ['unusual key order', '{"z":1,"a":{"y":2,"b":3},"m":null}'],
  ['large integer', '{"id":12345678901234567890}'],
  ['empty body', ''],
];

describe('sign', () => {
  it('matches the published test vector', () => {
    const key = parseSecret(VECTOR.secret);

    expect(sign(key, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    expect(sign(key, VECTOR.id, VECTOR.timestamp, bytes(VECTOR.body))).toBe(VECTOR.signature);
  });

  it('rejects an id with a full stop', () => {
    const error = captureTypeError(() => sign(parseSecret(VECTOR.secret), 'msg.1', VECTOR.timestamp, '{}'));

    expect(error.message).toContain('full stop');
  });

  it.each([-1, 1.5, Number.NaN])('rejects timestamp %s', (timestamp) => {
    captureTypeError(() => sign(parseSecret(VECTOR.secret), VECTOR.id, timestamp, '{}'));
  });
});

describe('verify', () => {
  const key = parseSecret(VECTOR.secret);
  const vectorHeaders: WebhookSignatureHeaders = {
    id: VECTOR.id,
    timestamp: String(VECTOR.timestamp),
    signature: VECTOR.signature,
  };

  it('accepts the published test vector', () => {
    const result = verify([key], vectorHeaders, bytes(VECTOR.body), atVectorTime);

    expect(result).toEqual({ id: VECTOR.id, timestamp: VECTOR.timestamp });
  });

  it('rejects the vector body re-serialised', () => {
    const reserialised = JSON.stringify(JSON.parse(VECTOR.body));

    const error = captureSignatureError(() => verify([key], vectorHeaders, bytes(reserialised), atVectorTime));

    expect(error.code).toBe('invalid_signature');
  });

  it('accepts signatures from the reference library', () => {
    const secret = newSecret();
    const id = generateWebhookId();
    const date = new Date();
    const body = '{"request_id":"r-1","data":{"candidate_id":"c-1"}}';
    const signature = new Webhook(secret).sign(id, date, body);

    const result = verify(
      [parseSecret(secret)],
      { id, timestamp: String(Math.floor(date.getTime() / 1000)), signature },
      bytes(body),
    );

    expect(result.id).toBe(id);
  });

  it('produces headers the reference library accepts', () => {
    const secret = newSecret();
    const body = '{"request_id":"r-1","status":"completed"}';
    const headers = signHeaders([parseSecret(secret)], generateWebhookId(), nowSeconds(), body);

    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('produces rotation headers the reference library accepts', () => {
    const oldSecret = newSecret();
    const newSecretValue = newSecret(64);
    const body = '{"a":1}';
    const headers = signHeaders(parseSecretList(`${newSecretValue} ${oldSecret}`), generateWebhookId(), nowSeconds(), body);

    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ a: 1 });
    expect(new Webhook(newSecretValue).verify(body, headers)).toEqual({ a: 1 });
  });

  describe('with exact body bytes', () => {
    const secret = newSecret();
    const reference = new Webhook(secret);
    const keys = [parseSecret(secret)];

    it.each(TRICKY_BODIES)('accepts %s signed by the reference', (_name, body) => {
      const id = generateWebhookId();
      const date = new Date();
      const headers = { id, timestamp: String(Math.floor(date.getTime() / 1000)), signature: reference.sign(id, date, body) };

      expect(verify(keys, headers, bytes(body)).id).toBe(id);
    });

    it.each(TRICKY_BODIES)('accepts %s in the reference', (_name, body) => {
      const headers = signHeaders(keys, generateWebhookId(), nowSeconds(), body);

      expect(() => reference.verify(body, headers, { jsonParse: false })).not.toThrow();
    });

    it.each(TRICKY_BODIES.filter(([, body]) => body !== ''))('rejects %s with one byte changed', (_name, body) => {
      const headers = signHeaders(keys, generateWebhookId(), nowSeconds(), body);
      const original = bytes(body);

      for (const position of [0, Math.floor(original.length / 2), original.length - 1]) {
        const changed = Uint8Array.from(original);
        changed[position] = (changed[position] ?? 0) ^ 0x01;

        const error = captureSignatureError(() => verify(keys, toInput(headers), changed));
        expect(error.code, `byte ${position}`).toBe('invalid_signature');
      }
    });

    it.each(TRICKY_BODIES.filter(([, body]) => body !== ''))('rejects %s with a byte appended', (_name, body) => {
      const headers = signHeaders(keys, generateWebhookId(), nowSeconds(), body);

      const error = captureSignatureError(() => verify(keys, toInput(headers), bytes(`${body} `)));

      expect(error.code).toBe('invalid_signature');
    });
  });

  it('verifies bytes that are not valid UTF-8', () => {
    const keys = [parseSecret(newSecret())];
    const body = Uint8Array.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]);
    const headers = signHeaders(keys, 'msg_binary', nowSeconds(), body);

    expect(verify(keys, toInput(headers), body).id).toBe('msg_binary');
  });

  describe('during key rotation', () => {
    const oldKey = parseSecret(newSecret());
    const newKey = parseSecret(newSecret());
    const body = bytes('{"rotation":true}');

    it('accepts a message signed with the second key', () => {
      const headers = signHeaders([oldKey], 'msg_rotation', nowSeconds(), body);

      expect(verify([newKey, oldKey], toInput(headers), body).id).toBe('msg_rotation');
    });

    it('accepts a match in any signature entry', () => {
      const headers = signHeaders([parseSecret(newSecret()), newKey], 'msg_rotation', nowSeconds(), body);

      expect(verify([newKey], toInput(headers), body).id).toBe('msg_rotation');
    });

    it('rejects when no key matches', () => {
      const headers = signHeaders([oldKey], 'msg_rotation', nowSeconds(), body);

      const error = captureSignatureError(() => verify([newKey], toInput(headers), body));

      expect(error.code).toBe('invalid_signature');
    });

    it('skips entries of other versions', () => {
      const valid = sign(newKey, 'msg_rotation', nowSeconds(), body);
      const headers = {
        id: 'msg_rotation',
        timestamp: String(nowSeconds()),
        signature: `v1a,${'A'.repeat(86)}== v2,${valid.slice(3)} ${valid}`,
      };

      expect(verify([newKey], headers, body).id).toBe('msg_rotation');
    });

    it('does not accept a v1 MAC under another version tag', () => {
      const valid = sign(newKey, 'msg_rotation', nowSeconds(), body);
      const headers = { id: 'msg_rotation', timestamp: String(nowSeconds()), signature: `v1a,${valid.slice(3)}` };

      const error = captureSignatureError(() => verify([newKey], headers, body));

      expect(error.code).toBe('invalid_signature');
    });
  });

  describe('with missing headers', () => {
    const complete = { id: VECTOR.id, timestamp: String(VECTOR.timestamp), signature: VECTOR.signature };

    it.each([
      ['id', 'webhook-id'],
      ['timestamp', 'webhook-timestamp'],
      ['signature', 'webhook-signature'],
    ] as const)('names a missing %s header', (field, headerName) => {
      for (const absent of [undefined, null, '', '  ']) {
        const error = captureSignatureError(() => verify([key], { ...complete, [field]: absent }, bytes(VECTOR.body), atVectorTime));

        expect(error.code).toBe('missing_signature_headers');
        expect(error.message).toBe(`Missing required header: ${headerName}`);
      }
    });

    it('names every missing header', () => {
      const error = captureSignatureError(() => verify([key], { signature: VECTOR.signature }, bytes(VECTOR.body)));

      expect(error.code).toBe('missing_signature_headers');
      expect(error.message).toBe('Missing required headers: webhook-id, webhook-timestamp');
    });
  });

  describe('with malformed headers', () => {
    it.each(['abc', '1614265330.5', '-1614265330', '0x60374bf2', '1e9', '99999999999999999999'])(
      'rejects timestamp %s',
      (timestamp) => {
        const error = captureSignatureError(() =>
          verify([key], { ...vectorHeaders, timestamp }, bytes(VECTOR.body), atVectorTime),
        );

        expect(error.code).toBe('invalid_signature_headers');
        expect(error.message).toContain('webhook-timestamp');
      },
    );

    it('rejects an id with a full stop', () => {
      const error = captureSignatureError(() =>
        verify([key], { ...vectorHeaders, id: 'msg.1614265330' }, bytes(VECTOR.body), atVectorTime),
      );

      expect(error.code).toBe('invalid_signature_headers');
      expect(error.message).toContain('webhook-id');
    });

    it.each(['g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', 'v1,', ',abc', `${VECTOR.signature} garbage`])(
      'rejects signature list %s',
      (signature) => {
        const error = captureSignatureError(() =>
          verify([key], { ...vectorHeaders, signature }, bytes(VECTOR.body), atVectorTime),
        );

        expect(error.code).toBe('invalid_signature_headers');
        expect(error.message).toContain('webhook-signature');
        expect(error.message).not.toContain('g0hM9SsE');
      },
    );

    it.each([
      ['truncated', VECTOR.signature.slice(0, -4)],
      ['not base64', 'v1,!!!!'],
      ['unpadded', VECTOR.signature.slice(0, -1)],
      ['with junk appended', `${VECTOR.signature}AA`],
    ])('treats a %s v1 entry as no match', (_name, signature) => {
      const error = captureSignatureError(() =>
        verify([key], { ...vectorHeaders, signature }, bytes(VECTOR.body), atVectorTime),
      );

      expect(error.code).toBe('invalid_signature');
      expect(error.message).not.toContain('g0hM9SsE');
    });

    it('accepts several spaces between entries', () => {
      const signature = `v1a,AAAA   ${VECTOR.signature}`;

      expect(verify([key], { ...vectorHeaders, signature }, bytes(VECTOR.body), atVectorTime).id).toBe(VECTOR.id);
    });
  });

  describe('with timestamp checks', () => {
    const body = bytes('{"fresh":false}');
    const now = 1_700_000_000;
    const at = (seconds: number) => ({ now: () => seconds * 1000 });
    const headersAt = (timestamp: number) => toInput(signHeaders([key], 'msg_clock', timestamp, body));

    it('accepts the edges of the tolerance', () => {
      expect(verify([key], headersAt(now - 300), body, at(now)).timestamp).toBe(now - 300);
      expect(verify([key], headersAt(now + 300), body, at(now)).timestamp).toBe(now + 300);
    });

    it('rejects a stale timestamp', () => {
      const error = captureSignatureError(() => verify([key], headersAt(now - 301), body, at(now)));

      expect(error.code).toBe('timestamp_too_old');
      expect(error.message).toContain('301 s in the past');
    });

    it('rejects a future timestamp', () => {
      const error = captureSignatureError(() => verify([key], headersAt(now + 301), body, at(now)));

      expect(error.code).toBe('timestamp_too_new');
      expect(error.message).toContain('301 s in the future');
    });

    it('checks the clock before the signature', () => {
      const headers = { ...headersAt(now - 3600), signature: 'v1,AAAA' };

      const error = captureSignatureError(() => verify([key], headers, body, at(now)));

      expect(error.code).toBe('timestamp_too_old');
    });

    it('applies a custom tolerance', () => {
      const options = { ...at(now), toleranceSeconds: 10 };

      expect(verify([key], headersAt(now - 10), body, options).id).toBe('msg_clock');
      expect(captureSignatureError(() => verify([key], headersAt(now - 11), body, options)).code).toBe('timestamp_too_old');
      expect(captureSignatureError(() => verify([key], headersAt(now + 11), body, options)).code).toBe('timestamp_too_new');
    });

    it('uses the real clock by default', () => {
      const error = captureSignatureError(() => verify([key], headersAt(nowSeconds() - 600), body));

      expect(error.code).toBe('timestamp_too_old');
    });

    it('rejects an invalid tolerance', () => {
      captureTypeError(() => verify([key], headersAt(now), body, { ...at(now), toleranceSeconds: -1 }));
    });
  });

  it('never puts the key or signature in messages', () => {
    const signature = sign(key, VECTOR.id, VECTOR.timestamp, 'other body');

    const error = captureSignatureError(() =>
      verify([key], { ...vectorHeaders, signature }, bytes(VECTOR.body), atVectorTime),
    );

    expect(error.message).not.toContain(signature.slice(3));
    expect(error.message).not.toContain(VECTOR.signature.slice(3));
    expect(error.message).not.toContain(VECTOR.secret.slice(6));
    expect(error.message).not.toContain(key.toString('base64'));
  });

  it('rejects an empty key list', () => {
    captureTypeError(() => verify([], vectorHeaders, bytes(VECTOR.body), atVectorTime));
  });
});

describe('signHeaders', () => {
  it('emits the three headers', () => {
    const headers = signHeaders([parseSecret(VECTOR.secret)], VECTOR.id, VECTOR.timestamp, VECTOR.body);

    expect(headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('rejects an empty key list', () => {
    captureTypeError(() => signHeaders([], VECTOR.id, VECTOR.timestamp, VECTOR.body));
  });
});

describe('parseSecret', () => {
  it('decodes the key bytes', () => {
    expect(parseSecret(VECTOR.secret)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
  });

  it('trims surrounding whitespace', () => {
    expect(parseSecret(`  ${VECTOR.secret}\n`)).toEqual(parseSecret(VECTOR.secret));
  });

  it.each([24, 32, 64])('accepts a %i-byte key', (length) => {
    expect(parseSecret(newSecret(length))).toHaveLength(length);
  });

  it.each([
    ['an empty value', '', 'is empty'],
    ['whitespace only', ' \n', 'is empty'],
    ['a missing prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'must start with whsec_'],
    ['a different prefix', 'whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'must start with whsec_'],
    ['invalid characters', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!!Sw', 'not valid base64'],
    ['base64url characters', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw', 'not valid base64'],
    ['missing padding', `whsec_${randomBytes(32).toString('base64').replace(/=+$/, '')}`, 'not valid base64'],
    ['an inner space', 'whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw', 'not valid base64'],
    ['a 23-byte key', newSecret(23), '23 bytes long'],
    ['a 65-byte key', newSecret(65), '65 bytes long'],
    ['an empty key', 'whsec_', '0 bytes long'],
  ])('rejects %s', (_name, value, message) => {
    const error = captureTypeError(() => parseSecret(value));

    expect(error.message).toContain(message);
    if (value.length > 12) {
      expect(error.message).not.toContain(value.trim().slice(6, 18));
    }
  });
});

describe('parseSecretList', () => {
  it('splits on whitespace', () => {
    const first = newSecret();
    const second = newSecret(48);

    const keys = parseSecretList(` ${first}  ${second}\n`);

    expect(keys).toEqual([parseSecret(first), parseSecret(second)]);
  });

  it('rejects an empty list', () => {
    expect(captureTypeError(() => parseSecretList('  ')).message).toContain('list is empty');
  });

  it('names the invalid entry', () => {
    const error = captureTypeError(() => parseSecretList(`${newSecret()} whsec_short`));

    expect(error.message).toContain('secret 2 of 2 is invalid');
    expect(error.message).not.toContain('whsec_short');
  });
});

describe('generateWebhookId', () => {
  it('returns unique ids without full stops', () => {
    const ids = Array.from({ length: 1000 }, () => generateWebhookId());

    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^msg_[A-Za-z0-9_-]{24}$/);
    }
  });
});
