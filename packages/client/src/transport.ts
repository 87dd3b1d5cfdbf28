import { EngramApiError, errorFor, errorFromResponse } from './errors.js';

export interface TransportOptions {
  /** Base URL of the engram server, e.g. `http://localhost:3000`. */
  url: string;
  /** A tenant API key, or the operator's admin token. */
  apiKey: string;
  /** Retries of a request answered 429 or 503 (or lost on the network, for safe requests). Default 3. */
  maxRetries?: number;
  /** First backoff when the server sends no Retry-After; doubles each try, with jitter. Default 250 ms. */
  retryBaseMs?: number;
  /** Longest wait between tries, Retry-After included. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Abort a request after this long. Default 60 s. */
  timeoutMs?: number;
  /** Another fetch (tests, proxies, instrumentation). Default: the global fetch. */
  fetch?: typeof fetch;
  /** How to wait between tries (tests). Default: setTimeout. An abort of the call's signal ends the wait either way. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Sent as Idempotency-Key; writes get a fresh one per call, reused by its retries. */
  idempotencyKey?: string;
  /** More request headers (If-Match). */
  headers?: Record<string, string>;
  /** Return the raw Response of a successful request (streams). */
  raw?: boolean;
  signal?: AbortSignal;
}

const RETRY_STATUSES = new Set([429, 503]);

/** Milliseconds to wait from a Retry-After header: delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(header)) return Math.round(Number(header) * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** fetch with auth, JSON, retries that honour Retry-After, and typed errors. */
export class HttpTransport {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: TransportOptions) {
    if (!options.url) throw new TypeError('engram client: url is required');
    if (!options.apiKey) throw new TypeError('engram client: apiKey is required');
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { Authorization: `Bearer ${this.options.apiKey}`, Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    Object.assign(headers, options.headers);
    // A request may be sent again when the server did not act on it (429/503), or when it
    // is safe to repeat (reads, deletes, writes carrying an idempotency key).
    const repeatable = method === 'GET' || method === 'DELETE' || method === 'PUT' || options.idempotencyKey !== undefined;
    const maxRetries = this.options.maxRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: this.signal(options.signal, options.raw === true),
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (!repeatable || attempt >= maxRetries) throw this.networkError(error);
        await this.pause(this.backoff(attempt, null), options.signal);
        continue;
      }
      if (response.ok) {
        if (options.raw) return response as T;
        if (response.status === 204) return undefined as T;
        const text = await response.text().catch((error: unknown) => {
          // The timeout (or the caller) may end the request while its body streams in.
          if (options.signal?.aborted) throw error;
          throw this.networkError(error);
        });
        return (text ? JSON.parse(text) : undefined) as T;
      }
      if (RETRY_STATUSES.has(response.status) && attempt < maxRetries) {
        const wait = this.backoff(attempt, retryAfterMs(response.headers.get('retry-after')));
        await response.body?.cancel().catch(() => undefined);
        await this.pause(wait, options.signal);
        continue;
      }
      throw await errorFromResponse(response);
    }
  }

  /** A request that got no answer: the timeout ran out, or the network failed. */
  private networkError(error: unknown): EngramApiError {
    const timedOut = (error as Error | undefined)?.name === 'TimeoutError';
    const why = timedOut ? `no answer within ${this.options.timeoutMs ?? 60_000} ms (timeoutMs)` : (error as Error | undefined)?.message ?? String(error);
    return errorFor(0, 'network_error', `engram unreachable at ${this.base}: ${why}`);
  }

  /** Waits between tries; an abort of the caller's signal ends the wait at once (with the signal's reason), not after a Retry-After of up to maxRetryDelayMs. */
  private pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        if (timer !== undefined) clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (error?: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      if (this.options.sleep) this.options.sleep(ms).then(() => settle(), (error: unknown) => settle(error ?? new Error('sleep failed')));
      else timer = setTimeout(() => settle(), ms);
    });
  }

  private backoff(attempt: number, retryAfter: number | null): number {
    const max = this.options.maxRetryDelayMs ?? 30_000;
    if (retryAfter !== null) return Math.min(retryAfter, max);
    const base = (this.options.retryBaseMs ?? 250) * 2 ** attempt;
    return Math.min(max, Math.round(base / 2 + Math.random() * (base / 2)));
  }

  /** The caller's signal and the timeout; a stream (raw) is bounded by the caller alone. */
  private signal(caller: AbortSignal | undefined, stream: boolean): AbortSignal | undefined {
    if (stream) return caller;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    return caller ? AbortSignal.any([caller, timeout]) : timeout;
  }
}

export { EngramApiError };
