import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isJobError, type JobError } from '../src/errors.js';
import { BlockedAddressError, classifyAddress, createGuardedConnector, isPublicAddress } from '../src/net/address-guard.js';
import { createOutboundClient, parseRetryAfter, redactUrl, type OutboundClient } from '../src/net/outbound.js';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * HTTP server on loopback only: one listener on 127.0.0.1 and, when IPv6 is available,
 * one on ::1 with the same port. Counts connections and requests on both.
 */
interface LoopbackServer {
  port: number;
  hasIPv6: boolean;
  requests: RecordedRequest[];
  connections: number;
  url(path: string, host?: string): string;
  close(): Promise<void>;
}

async function startLoopbackServer(handler: Handler): Promise<LoopbackServer> {
  const state = { requests: [] as RecordedRequest[], connections: 0 };

  const makeServer = (): Server => {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        state.requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        handler(request, response, body);
      });
    });
    server.on('connection', () => {
      state.connections += 1;
    });
    return server;
  };

  const ipv4 = makeServer();
  ipv4.listen(0, '127.0.0.1');
  await once(ipv4, 'listening');
  const port = (ipv4.address() as AddressInfo).port;

  let ipv6: Server | undefined = makeServer();
  try {
    ipv6.listen(port, '::1');
    await once(ipv6, 'listening');
  } catch {
    ipv6 = undefined;
  }

  const closeServer = async (server: Server) => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };

  return {
    port,
    hasIPv6: ipv6 !== undefined,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    url: (path, host = '127.0.0.1') => `http://${host}:${port}${path}`,
    close: async () => {
      await closeServer(ipv4);
      if (ipv6 !== undefined) {
        await closeServer(ipv6);
      }
    },
  };
}

/** Routes of the file server used by most tests. */
const fileServerHandler: Handler = (request, response) => {
  const url = new URL(request.url ?? '/', 'http://placeholder');
  const path = url.pathname;

  if (path === '/ok') {
    response.writeHead(200, { 'content-type': 'application/pdf' });
    response.end('%PDF-1.7 hello');
    return;
  }

  if (path === '/declared-large') {
    response.writeHead(200, { 'content-length': '5000' });
    response.end(Buffer.alloc(5000, 0x61));
    return;
  }

  if (path === '/chunked-large') {
    // No Content-Length, so Node sends chunked encoding and only the byte count can tell.
    response.writeHead(200, { 'content-type': 'text/plain' });
    for (let index = 0; index < 10; index += 1) {
      response.write(Buffer.alloc(1000, 0x62));
    }
    response.end();
    return;
  }

  if (path === '/chunked-small') {
    response.writeHead(200);
    response.write('first,');
    response.end('second');
    return;
  }

  if (path === '/hang') {
    return;
  }

  if (path.startsWith('/status/')) {
    response.writeHead(Number(path.slice('/status/'.length)), { 'retry-after': '120' });
    response.end('error body');
    return;
  }

  // /redirect/3 -> /redirect/2 -> /redirect/1 -> /redirect/0 -> /ok
  if (path.startsWith('/redirect/')) {
    const remaining = Number(path.slice('/redirect/'.length));
    response.writeHead(302, { location: remaining === 0 ? '/ok?token=after-redirect' : `/redirect/${remaining - 1}` });
    response.end();
    return;
  }

  if (path === '/redirect-to-ftp') {
    response.writeHead(301, { location: `ftp://127.0.0.1:${request.socket.localPort}/resume.pdf` });
    response.end();
    return;
  }

  if (path === '/redirect-without-location') {
    response.writeHead(302);
    response.end();
    return;
  }

  response.writeHead(404);
  response.end('not found');
};

function expectJobError(error: unknown, code: string, retryable: boolean): asserts error is JobError {
  expect(isJobError(error)).toBe(true);
  expect((error as JobError).code).toBe(code);
  expect((error as JobError).retryable).toBe(retryable);
}

async function captureError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('isPublicAddress', () => {
  const cases: Array<[string, string]> = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.63.255.255', 'public'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.100.100.200', 'carrier-grade-nat'],
    ['100.127.255.255', 'carrier-grade-nat'],
    ['100.128.0.0', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd00:ec2::254', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    // IPv4 embedded in IPv6
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:7F00:0001', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::1', 'private'],
    // Not an address literal
    ['localhost', 'invalid'],
    ['[::1]', 'invalid'],
    ['2130706433', 'invalid'],
    ['', 'invalid'],
  ];

  it.each(cases)('classifies %s as %s', (ip, category) => {
    expect(classifyAddress(ip)).toBe(category);
    expect(isPublicAddress(ip)).toBe(category === 'public');
  });
});

describe('createGuardedConnector', () => {
  // The client checks IP literals before calling fetch, so these tests call the
  // connector through a bare Agent to show that it blocks on its own as well.
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['localhost', 'localhost'],
    ['::ffff:127.0.0.1', '[::ffff:127.0.0.1]'],
  ])('blocks %s at connect time', async (name, host) => {
    const server = await startLoopbackServer(fileServerHandler);
    const agent = new Agent({ connect: createGuardedConnector(isPublicAddress) });

    try {
      const error = await captureError(fetch(server.url('/ok', host), { dispatcher: agent }));

      expect(error).toBeInstanceOf(TypeError);
      expect((error as TypeError).cause).toBeInstanceOf(BlockedAddressError);
      expect(((error as TypeError).cause as BlockedAddressError).category).toBe('loopback');
      expect(server.connections, name).toBe(0);
    } finally {
      await agent.close();
      await server.close();
    }
  });

  it('connects when the policy allows the address', async () => {
    const server = await startLoopbackServer(fileServerHandler);
    const agent = new Agent({ connect: createGuardedConnector(() => true) });

    try {
      const response = await fetch(server.url('/ok', 'localhost'), { dispatcher: agent });

      expect(await response.text()).toBe('%PDF-1.7 hello');
    } finally {
      await agent.close();
      await server.close();
    }
  });
});

describe('redactUrl', () => {
  it('drops query, fragment and user info', () => {
    expect(redactUrl('https://user:pass@files.example.com:8443/a/b.pdf?token=secret#x')).toBe(
      'https://files.example.com:8443/a/b.pdf',
    );
  });

  it('returns a placeholder for invalid URLs', () => {
    expect(redactUrl('not a url ?token=secret')).toBe('<invalid URL>');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
  });

  it('reads an HTTP date', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:30 GMT', now)).toBe(90);
  });

  it('clamps a past date to zero', () => {
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores missing and invalid values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('download', () => {
  let server: LoopbackServer;
  let client: OutboundClient;

  beforeAll(async () => {
    server = await startLoopbackServer(fileServerHandler);
  });

  afterAll(async () => {
    await server.close();
  });

  afterEach(async () => {
    await client?.close();
  });

  describe('when private addresses are blocked', () => {
    const loopbackUrls = (): Array<[string, string]> => {
      const urls: Array<[string, string]> = [
        ['127.0.0.1', server.url('/ok')],
        ['localhost', server.url('/ok', 'localhost')],
        ['::ffff:127.0.0.1', server.url('/ok', '[::ffff:127.0.0.1]')],
        ['decimal 127.0.0.1', server.url('/ok', '2130706433')],
        ['hex 127.0.0.1', server.url('/ok', '0x7f.0.0.1')],
        ['octal 127.0.0.1', server.url('/ok', '0177.0.0.1')],
        ['short 127.1', server.url('/ok', '127.1')],
        ['mixed-case LocalHost', server.url('/ok', 'LocalHost')],
      ];
      if (server.hasIPv6) {
        urls.push(['::1', server.url('/ok', '[::1]')]);
      }
      return urls;
    };

    it('rejects loopback URLs without connecting', async () => {
      // Each URL is first fetched with private addresses allowed, to prove that it does
      // reach the server, so that zero requests in the blocked case means something.
      const open = createOutboundClient({ allowPrivate: true });
      client = createOutboundClient({ allowPrivate: false });

      try {
        for (const [name, url] of loopbackUrls()) {
          const reachable = await open.download(url, { maxBytes: 1000, timeoutMs: 5000 });
          expect(Buffer.from(reachable.bytes).toString(), name).toBe('%PDF-1.7 hello');

          const requestsBefore = server.requests.length;
          const connectionsBefore = server.connections;
          const error = await captureError(client.download(url, { maxBytes: 1000, timeoutMs: 5000 }));

          expectJobError(error, 'file_url_blocked', false);
          expect(error.message, name).toContain('loopback address');
          expect(error.message, name).toContain('OUTBOUND_ALLOW_PRIVATE=true');
          expect(server.requests.length, name).toBe(requestsBefore);
          expect(server.connections, name).toBe(connectionsBefore);
        }
      } finally {
        await open.close();
      }
    });

    it('rejects unspecified-address URLs without connecting', async () => {
      // Linux connects 0.0.0.0 and :: to this machine, so they reach a loopback listener.
      const urls: Array<[string, string]> = [
        ['0.0.0.0', server.url('/ok', '0.0.0.0')],
        ['single 0', server.url('/ok', '0')],
      ];
      if (server.hasIPv6) {
        urls.push(['::', server.url('/ok', '[::]')]);
      }
      const open = createOutboundClient({ allowPrivate: true });
      client = createOutboundClient({ allowPrivate: false });

      try {
        for (const [name, url] of urls) {
          const reachable = await open.download(url, { maxBytes: 1000, timeoutMs: 5000 });
          expect(Buffer.from(reachable.bytes).toString(), name).toBe('%PDF-1.7 hello');

          const requestsBefore = server.requests.length;
          const connectionsBefore = server.connections;
          const error = await captureError(client.download(url, { maxBytes: 1000, timeoutMs: 5000 }));

          expectJobError(error, 'file_url_blocked', false);
          expect(error.message, name).toContain('the unspecified address');
          expect(server.requests.length, name).toBe(requestsBefore);
          expect(server.connections, name).toBe(connectionsBefore);
        }
      } finally {
        await open.close();
      }
    });

    it('rejects a redirect to a blocked host', async () => {
      const target = await startLoopbackServer(fileServerHandler);
      const origin = await startLoopbackServer((_request, response) => {
        response.writeHead(302, { location: target.url('/ok?token=secret-token') });
        response.end();
      });

      // Both servers are on loopback, so this policy emulates a public origin that
      // redirects to a private target. It allows the name localhost and rejects the
      // literal 127.0.0.1.
      client = createOutboundClient({ allowPrivate: false, isAllowedAddress: (_address, hostname) => hostname === 'localhost' });

      try {
        const error = await captureError(client.download(origin.url('/start', 'localhost'), { maxBytes: 1000, timeoutMs: 5000 }));

        expectJobError(error, 'file_url_blocked', false);
        expect(error.message).toContain(`redirected to http://127.0.0.1:${target.port}/ok`);
        expect(error.message).not.toContain('secret-token');
        expect(origin.requests).toHaveLength(1);
        expect(target.requests).toHaveLength(0);
        expect(target.connections).toBe(0);
      } finally {
        await origin.close();
        await target.close();
      }
    });

    it('applies the policy to resolved host names', async () => {
      client = createOutboundClient({ allowPrivate: false, isAllowedAddress: (_address, hostname) => hostname !== 'localhost' });
      const requestsBefore = server.requests.length;

      const error = await captureError(client.download(server.url('/ok', 'localhost'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_url_blocked', false);
      expect(error.message).toContain('resolved from localhost');
      expect(server.requests.length).toBe(requestsBefore);
    });
  });

  describe('when private addresses are allowed', () => {
    it('downloads a file into memory', async () => {
      client = createOutboundClient({ allowPrivate: true, userAgent: 'test-agent/1' });

      const result = await client.download(server.url('/ok?token=abc'), { maxBytes: 1000, timeoutMs: 5000 });

      expect(Buffer.from(result.bytes).toString()).toBe('%PDF-1.7 hello');
      expect(result.contentType).toBe('application/pdf');
      expect(result.finalUrl).toBe(server.url('/ok?token=abc'));
      expect(server.requests.at(-1)?.headers['user-agent']).toBe('test-agent/1');
    });

    it('joins a chunked body', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const result = await client.download(server.url('/chunked-small'), { maxBytes: 1000, timeoutMs: 5000 });

      expect(Buffer.from(result.bytes).toString()).toBe('first,second');
      expect(result.contentType).toBeUndefined();
    });

    it('accepts a body of exactly maxBytes', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const result = await client.download(server.url('/declared-large'), { maxBytes: 5000, timeoutMs: 5000 });

      expect(result.bytes.byteLength).toBe(5000);
    });

    it('rejects a Content-Length over the cap', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(server.url('/declared-large'), { maxBytes: 4999, timeoutMs: 5000 }));

      expectJobError(error, 'file_too_large', false);
      expect(error.message).toContain('5000 bytes');
    });

    it('rejects a chunked body over the cap', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(server.url('/chunked-large'), { maxBytes: 2500, timeoutMs: 5000 }));

      expectJobError(error, 'file_too_large', false);
      expect(error.message).toContain('2500 bytes');
    });

    it('times out on a server that never responds', async () => {
      client = createOutboundClient({ allowPrivate: true });
      const started = Date.now();

      const error = await captureError(client.download(server.url('/hang'), { maxBytes: 1000, timeoutMs: 200 }));

      expectJobError(error, 'file_download_timeout', true);
      expect(error.message).toContain('200 ms');
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('rethrows an abort requested by the caller', async () => {
      client = createOutboundClient({ allowPrivate: true });
      const controller = new AbortController();
      const reason = new Error('job cancelled');
      setTimeout(() => controller.abort(reason), 50);

      const error = await captureError(
        client.download(server.url('/hang'), { maxBytes: 1000, timeoutMs: 5000, signal: controller.signal }),
      );

      expect(error).toBe(reason);
    });

    it('fails without retry on 404', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(server.url('/status/404?token=secret'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', false);
      expect(error.message).toContain('HTTP 404');
      expect(error.message).toContain(`http://127.0.0.1:${server.port}/status/404`);
      expect(error.message).not.toContain('secret');
    });

    it.each([429, 500, 503])('fails with retry on %i', async (status) => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(server.url(`/status/${status}`), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', true);
      expect(error.message).toContain(`HTTP ${status}`);
    });

    it('fails with retry when the connection is refused', async () => {
      const closed = await startLoopbackServer(fileServerHandler);
      await closed.close();
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(closed.url('/ok'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', true);
      expect(error.message).toContain('ECONNREFUSED');
    });

    it('fails without retry on a port that fetch blocks', async () => {
      client = createOutboundClient({ allowPrivate: true });

      // Port 25 (SMTP) is on the fetch standard's list of bad ports, so undici rejects it
      // before opening a socket.
      const error = await captureError(client.download('http://127.0.0.1:25/resume.pdf', { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', false);
      expect(error.message).toContain('bad port');
    });

    it('follows redirects up to the cap', async () => {
      client = createOutboundClient({ allowPrivate: true, maxRedirects: 4 });

      const result = await client.download(server.url('/redirect/3'), { maxBytes: 1000, timeoutMs: 5000 });

      expect(Buffer.from(result.bytes).toString()).toBe('%PDF-1.7 hello');
      expect(result.finalUrl).toBe(server.url('/ok?token=after-redirect'));
    });

    it('fails after too many redirects', async () => {
      client = createOutboundClient({ allowPrivate: true, maxRedirects: 3 });
      const requestsBefore = server.requests.length;

      const error = await captureError(client.download(server.url('/redirect/3'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', false);
      expect(error.message).toContain('more than 3 times');
      expect(server.requests.length - requestsBefore).toBe(4);
    });

    it('rejects a redirect to a non-http scheme', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(server.url('/redirect-to-ftp'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_url_invalid', false);
      expect(error.message).toContain('must use http or https, not ftp');
    });

    it('rejects a redirect without a Location header', async () => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(
        client.download(server.url('/redirect-without-location'), { maxBytes: 1000, timeoutMs: 5000 }),
      );

      expectJobError(error, 'file_download_failed', false);
      expect(error.message).toContain('without a Location header');
    });

    it('fails after close', async () => {
      client = createOutboundClient({ allowPrivate: true });
      await client.close();

      const error = await captureError(client.download(server.url('/ok'), { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_download_failed', true);
    });

    it.each([
      ['ftp://127.0.0.1/resume.pdf', 'must use http or https, not ftp'],
      ['file:///etc/passwd', 'must use http or https, not file'],
      ['data:text/plain,hello', 'must use http or https, not data'],
      ['not a url', 'not a valid absolute URL'],
      ['/relative/path.pdf', 'not a valid absolute URL'],
      ['http://user:password@127.0.0.1/resume.pdf', 'must not contain a user name or password'],
    ])('rejects %s as invalid', async (url, message) => {
      client = createOutboundClient({ allowPrivate: true });

      const error = await captureError(client.download(url, { maxBytes: 1000, timeoutMs: 5000 }));

      expectJobError(error, 'file_url_invalid', false);
      expect(error.message).toContain(message);
      expect(error.message).not.toContain('password@');
    });
  });
});

describe('post', () => {
  let receiver: LoopbackServer;
  let redirectTarget: LoopbackServer;
  let client: OutboundClient;

  beforeAll(async () => {
    redirectTarget = await startLoopbackServer((_request, response) => {
      response.writeHead(204);
      response.end();
    });

    receiver = await startLoopbackServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://placeholder').pathname;

      if (path === '/accepted') {
        response.writeHead(204);
        response.end();
      } else if (path === '/moved') {
        response.writeHead(307, { location: redirectTarget.url('/accepted') });
        response.end();
      } else if (path === '/broken') {
        response.writeHead(500);
        response.end('internal error');
      } else if (path === '/busy') {
        response.writeHead(503, { 'retry-after': '30' });
        response.end();
      } else if (path === '/large-response') {
        response.writeHead(200);
        response.end(Buffer.alloc(256 * 1024, 0x63));
      } else if (path === '/hang') {
        // Never responds.
      } else {
        response.writeHead(404);
        response.end();
      }
    });
  });

  afterAll(async () => {
    await receiver.close();
    await redirectTarget.close();
  });

  afterEach(async () => {
    await client?.close();
  });

  it('sends the body and headers as given', async () => {
    client = createOutboundClient({ allowPrivate: true });
    const body = '{"request_id":"r-1","status":"completed"}';

    const result = await client.post(receiver.url('/accepted'), body, { 'webhook-id': 'msg_1' }, { timeoutMs: 5000 });

    expect(result).toEqual({ status: 204 });
    const request = receiver.requests.at(-1);
    expect(request?.method).toBe('POST');
    expect(request?.body).toBe(body);
    expect(request?.headers['webhook-id']).toBe('msg_1');
    expect(request?.headers['content-type']).toBe('application/json');
  });

  it('returns a 3xx without following it', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const result = await client.post(receiver.url('/moved'), '{}', {}, { timeoutMs: 5000 });

    expect(result.status).toBe(307);
    expect(redirectTarget.requests).toHaveLength(0);
    expect(redirectTarget.connections).toBe(0);
  });

  it('returns a 500 status', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const result = await client.post(receiver.url('/broken'), '{}', {}, { timeoutMs: 5000 });

    expect(result).toEqual({ status: 500 });
  });

  it('parses Retry-After', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const result = await client.post(receiver.url('/busy'), '{}', {}, { timeoutMs: 5000 });

    expect(result).toEqual({ status: 503, retryAfterSeconds: 30 });
  });

  it('returns despite a large response body', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const result = await client.post(receiver.url('/large-response'), '{}', {}, { timeoutMs: 5000 });

    expect(result.status).toBe(200);
  });

  it('times out on a receiver that never responds', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const error = await captureError(client.post(receiver.url('/hang'), '{}', {}, { timeoutMs: 200 }));

    expectJobError(error, 'callback_timeout', true);
  });

  it('fails with retry when the connection is refused', async () => {
    const closed = await startLoopbackServer(() => undefined);
    await closed.close();
    client = createOutboundClient({ allowPrivate: true });

    const error = await captureError(client.post(closed.url('/accepted'), '{}', {}, { timeoutMs: 5000 }));

    expectJobError(error, 'callback_failed', true);
  });

  it('rejects a loopback receiver without connecting', async () => {
    client = createOutboundClient({ allowPrivate: false });
    const requestsBefore = receiver.requests.length;
    const connectionsBefore = receiver.connections;

    for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
      const error = await captureError(client.post(receiver.url('/accepted?sig=secret', host), '{}', {}, { timeoutMs: 5000 }));

      expectJobError(error, 'callback_url_blocked', false);
      expect(error.message, host).not.toContain('secret');
    }

    expect(receiver.requests.length).toBe(requestsBefore);
    expect(receiver.connections).toBe(connectionsBefore);
  });

  it('rejects a non-http scheme', async () => {
    client = createOutboundClient({ allowPrivate: true });

    const error = await captureError(client.post('ftp://127.0.0.1/callback', '{}', {}, { timeoutMs: 5000 }));

    expectJobError(error, 'callback_url_invalid', false);
  });
});
