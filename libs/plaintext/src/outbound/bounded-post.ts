// The one way engram POSTs to an embedding endpoint (ADR 0104): redirects are errors,
// one deadline covers connect + answer, the answer is cut off past a size cap while it
// streams, and error bodies never reach the message (only `detail`, for server logs).
// For tenant-supplied URLs (`publicOnly`) every address the host resolves to is checked
// by `refusedAddressReason`, at connect time, and the socket connects to the address
// that was checked — there is no second resolution a DNS rebinding could answer.
import { lookup as dnsLookup } from 'node:dns/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, LookupFunction } from 'node:net';
import { refusedAddressReason } from './public-address';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address (dns.lookup with all: true by default; tests inject one). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface BoundedPostOptions {
  /** How errors name the target, e.g. `embedding endpoint "local"`; never the body of an answer. */
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Largest successful answer read, in bytes; past it the request fails. */
  readonly maxResponseBytes: number;
  /** Connect only to public unicast addresses (tenant-supplied URLs). */
  readonly publicOnly: boolean;
  readonly resolve?: HostResolver;
}

/** A failed outbound request. `message` is safe to show to the tenant; `detail` is for server logs only. */
export class OutboundRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'OutboundRequestError';
  }
}

/** Bytes of an error answer kept for the server-side log. */
const ERROR_DETAIL_BYTES = 2048;

const systemResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * The addresses of `hostname` if every one of them is public; throws an OutboundRequestError
 * saying which address is refused and why (or that the name does not resolve) otherwise.
 */
export async function resolvePublicAddresses(hostname: string, label: string, resolve: HostResolver = systemResolver): Promise<ResolvedAddress[]> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: ResolvedAddress[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw new OutboundRequestError(`${label}: ${host} does not resolve`, undefined, (error as Error).message);
    }
    if (!addresses.length) throw new OutboundRequestError(`${label}: ${host} does not resolve`);
  }
  for (const { address } of addresses) {
    const kind = refusedAddressReason(address);
    if (kind) throw new OutboundRequestError(`${label}: ${host} resolves to ${address}, ${withArticle(kind)} address; only public addresses may be reached`);
  }
  return addresses;
}

function publicOnlyLookup(label: string, resolve: HostResolver | undefined): LookupFunction {
  return (hostname, options, callback) => {
    resolvePublicAddresses(hostname, label, resolve).then(
      (resolved) => {
        const wanted = options.family === 4 || options.family === 6 ? resolved.filter((a) => a.family === options.family) : resolved;
        if (!wanted.length) return callback(new OutboundRequestError(`${label}: ${hostname} has no IPv${options.family} address`), '', 0);
        if (options.all) return callback(null, wanted);
        return callback(null, wanted[0].address, wanted[0].family);
      },
      (error: Error) => callback(error, '', 0),
    );
  };
}

/** POSTs `body` to `url` and returns the 2xx answer as text; anything else throws an OutboundRequestError. */
export function boundedPost(url: URL, body: string, options: BoundedPostOptions): Promise<{ status: number; body: string }> {
  const { label } = options;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (options.publicOnly && isIP(host)) {
    // Node does not look literal addresses up, so the lookup hook would not see them.
    const kind = refusedAddressReason(host);
    if (kind) return Promise.reject(new OutboundRequestError(`${label}: ${host} is ${withArticle(kind)} address; only public addresses may be reached`));
  }
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const request = transport.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(body)) },
      // A pooled socket may have been opened for an operator endpoint without the address check.
      ...(options.publicOnly ? { lookup: publicOnlyLookup(label, options.resolve), agent: false } : {}),
    });
    const timer = setTimeout(() => fail(new OutboundRequestError(`${label} did not answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    function fail(error: OutboundRequestError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
      request.destroy();
    }
    request.on('error', (error: Error) => fail(error instanceof OutboundRequestError ? error : new OutboundRequestError(`could not reach ${label}`, undefined, error.message)));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        fail(new OutboundRequestError(`${label} answered HTTP ${status}, a redirect; redirects are not followed`, status, `location: ${String(response.headers.location ?? '')}`));
        return;
      }
      const ok = status >= 200 && status < 300;
      const tooLarge = () => new OutboundRequestError(`${label} answered more than ${options.maxResponseBytes} bytes; the answer was cut off`, status);
      const failed = (detail: string) => new OutboundRequestError(`${label} answered HTTP ${status}`, status, detail);
      if (ok && Number(response.headers['content-length']) > options.maxResponseBytes) {
        fail(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (ok && size > options.maxResponseBytes) return fail(tooLarge());
        if (!ok && size > ERROR_DETAIL_BYTES) {
          chunks.push(chunk);
          return fail(failed(Buffer.concat(chunks).subarray(0, ERROR_DETAIL_BYTES).toString('utf8')));
        }
        chunks.push(chunk);
      });
      response.on('error', (error: Error) => fail(new OutboundRequestError(`${label} broke off its answer`, status, error.message)));
      response.on('close', () => fail(new OutboundRequestError(`${label} broke off its answer`, status)));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (!ok) return fail(failed(text));
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, body: text });
      });
    });
    request.end(body);
  });
}

/** "a loopback", "an unspecified": the reasons start with either. */
function withArticle(kind: string): string {
  return `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}`;
}
