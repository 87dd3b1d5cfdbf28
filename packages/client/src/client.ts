import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from './chat-types.js';
import { EngramNotFoundError } from './errors.js';
import type { Operations } from './openapi-types.js';
import { readEventStream } from './sse.js';
import { HttpTransport, RequestOptions, TransportOptions } from './transport.js';

type Op<K extends keyof Operations> = Operations[K];
type Body<K extends keyof Operations> = Op<K>['body'];
type Query<K extends keyof Operations> = Op<K>['query'];
type Res<K extends keyof Operations> = Op<K>['response'];

export type Cube = Res<'CubeController_get'>;
export type CubeStats = Res<'CubeController_stats'>;
export type CubeOverview = Res<'CubeController_overview'>;
export type Memory = Res<'MemoryController_get'>;
export type MemoryInput = Body<'MemoryController_add'>['items'][number];
export type SearchResult = Res<'MemoryController_search'>['results'][number];
export type MemoryVersion = Res<'MemoryController_history'>['items'][number];
export type Tenant = Res<'AdminController_createTenant'>;
export type ApiKey = Res<'AdminController_listKeys'>['items'][number];
export type CreatedApiKey = Res<'AdminController_createKey'>;

/** Write options: the Idempotency-Key (one is generated per call when omitted). */
export interface WriteOptions {
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export type SearchOptions = Omit<Body<'MemoryController_search'>, 'query'> & { signal?: AbortSignal };
export type MemoryListQuery = Query<'MemoryController_list'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const seg = encodeURIComponent;
const newKey = (): string => globalThis.crypto.randomUUID();

/**
 * The engram client. Cubes are named by id or by name wherever a cube is taken
 * (`"user-42"` is looked up once and remembered). Writes carry an Idempotency-Key, so
 * retries after 429/503 or a lost answer never store twice.
 */
export class EngramClient {
  private readonly http: HttpTransport;
  private readonly cubeIds = new Map<string, string>();

  constructor(options: TransportOptions) {
    this.http = new HttpTransport(options);
  }

  /**
   * Any route, with the client's auth, retries and typed errors (for routes this client
   * has no method for yet). `path` starts with `/v1/`.
   */
  request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.http.request<T>(method, path, options);
  }

  /** The id of a cube given by id or name; a name unknown to this key throws EngramNotFoundError. */
  async cubeId(cube: string, signal?: AbortSignal): Promise<string> {
    if (UUID.test(cube)) return cube;
    const known = this.cubeIds.get(cube);
    if (known) return known;
    const page = await this.http.request<Res<'CubeController_list'>>('GET', '/v1/cubes', { query: { name: cube }, signal });
    const found = page.items[0];
    if (!found) throw new EngramNotFoundError(404, 'not_found', `cube "${cube}" not found`);
    this.cubeIds.set(cube, found.id);
    return found.id;
  }

  /**
   * Runs `call` on the cube's path. A name resolved earlier whose cube has since been deleted
   * (and perhaps made again under the same name by another client) answers 404 "cube not
   * found": the name is resolved afresh and the call made once more on the new id (nothing was
   * stored by the first, so a write is not repeated).
   */
  private async onCube<T>(cube: string, signal: AbortSignal | undefined, call: (path: (rest?: string) => string) => Promise<T>): Promise<T> {
    const cached = !UUID.test(cube) && this.cubeIds.has(cube);
    const id = await this.cubeId(cube, signal);
    const pathOf = (cubeId: string) => (rest = '') => `/v1/cubes/${seg(cubeId)}${rest}`;
    try {
      return await call(pathOf(id));
    } catch (error) {
      if (!cached || !(error instanceof EngramNotFoundError) || error.message !== 'cube not found') throw error;
      this.cubeIds.delete(cube);
      const fresh = await this.cubeId(cube, signal);
      if (fresh === id) throw error;
      return call(pathOf(fresh));
    }
  }

  private write<T>(method: string, path: string, body: unknown, options: WriteOptions = {}, extra: RequestOptions = {}): Promise<T> {
    return this.http.request<T>(method, path, { ...extra, body, idempotencyKey: options.idempotencyKey ?? newKey(), signal: options.signal });
  }

  readonly cubes = {
    create: (body: Body<'CubeController_create'>, options?: WriteOptions) => this.write<Cube>('POST', '/v1/cubes', body, options),
    /** The live cube with this name, created when missing (idempotent). */
    getOrCreate: async (name: string, body: Omit<Body<'CubeController_create'>, 'name' | 'ifExists'> = {}, options?: WriteOptions): Promise<Cube> => {
      const cube = await this.write<Cube>('POST', '/v1/cubes', { ...body, name, ifExists: 'return' }, options);
      this.cubeIds.set(name, cube.id);
      return cube;
    },
    /** The cube with this exact name, or null. */
    findByName: async (name: string): Promise<Cube | null> => (await this.http.request<Res<'CubeController_list'>>('GET', '/v1/cubes', { query: { name } })).items[0] ?? null,
    get: async (cube: string) => this.onCube(cube, undefined, (path) => this.http.request<Cube>('GET', path())),
    stats: async (cube: string) => this.onCube(cube, undefined, (path) => this.http.request<CubeStats>('GET', path('/stats'))),
    /** The cube across the three kinds of memory: counts, KV bytes by tier, heat, banks, working memory, scheduler. */
    overview: async (cube: string) => this.onCube(cube, undefined, (path) => this.http.request<CubeOverview>('GET', path('/overview'))),
    list: (query: Query<'CubeController_list'> = {}) => this.http.request<Res<'CubeController_list'>>('GET', '/v1/cubes', { query }),
    /** Every cube, page after page. */
    iterate: (query: Omit<Query<'CubeController_list'>, 'cursor'> = {}): AsyncGenerator<Cube> => this.paginate((cursor) => this.cubes.list({ ...query, cursor })),
    update: async (cube: string, body: Body<'CubeController_update'>) => this.onCube(cube, undefined, (path) => this.http.request<Cube>('PATCH', path(), { body })),
    delete: async (cube: string): Promise<{ purgeJobId: string }> => {
      const result = await this.onCube(cube, undefined, (path) => this.http.request<{ purgeJobId: string }>('DELETE', path()));
      for (const [name, id] of this.cubeIds) if (name === cube || id === cube) this.cubeIds.delete(name);
      return result;
    },
  };

  readonly memories = {
    /** Stores memories (strings or full inputs), all or nothing, in order. */
    add: async (cube: string, items: (string | MemoryInput)[], options?: WriteOptions): Promise<Memory[]> => {
      const body = { items: items.map((item) => (typeof item === 'string' ? { text: item } : item)) };
      return (await this.onCube(cube, options?.signal, (path) => this.write<Res<'MemoryController_add'>>('POST', path('/memories'), body, options))).items;
    },
    addMessages: async (cube: string, body: Body<'MemoryController_addMessages'>, options?: WriteOptions) =>
      this.onCube(cube, options?.signal, (path) => this.write<Res<'MemoryController_addMessages'>>('POST', path('/messages'), body, options)),
    search: async (cube: string, query: string, options: SearchOptions = {}): Promise<SearchResult[]> => {
      const { signal, ...rest } = options;
      return (await this.onCube(cube, signal, (path) => this.http.request<Res<'MemoryController_search'>>('POST', path('/search'), { body: { ...rest, query }, signal }))).results;
    },
    get: async (cube: string, memoryId: string) => this.onCube(cube, undefined, (path) => this.http.request<Memory>('GET', path(`/memories/${seg(memoryId)}`))),
    list: async (cube: string, query: MemoryListQuery = {}) => this.onCube(cube, undefined, (path) => this.http.request<Res<'MemoryController_list'>>('GET', path('/memories'), { query: query as RequestOptions['query'] })),
    /** Every memory matching the query, page after page (`limit` is the page size). */
    iterate: (cube: string, query: Omit<MemoryListQuery, 'cursor'> = {}): AsyncGenerator<Memory> => this.paginate((cursor) => this.memories.list(cube, { ...query, cursor })),
    /**
     * A new version of the memory. `ifMatch`: the `version` you read; the update then applies
     * only if nobody changed the memory since (else an EngramApiError with status 412 and the
     * current version in `details.version`): read-modify-write of tags or metadata, which an
     * update replaces whole, without losing another writer's change.
     */
    update: async (cube: string, memoryId: string, body: Body<'MemoryController_update'>, options: { ifMatch?: number; signal?: AbortSignal } = {}) =>
      this.onCube(cube, options.signal, (path) => this.http.request<Memory>('PATCH', path(`/memories/${seg(memoryId)}`), {
        body,
        signal: options.signal,
        ...(options.ifMatch !== undefined ? { headers: { 'If-Match': `"${options.ifMatch}"` } } : {}),
      })),
    delete: async (cube: string, memoryId: string): Promise<void> => this.onCube(cube, undefined, (path) => this.http.request<void>('DELETE', path(`/memories/${seg(memoryId)}`))),
    restore: async (cube: string, memoryId: string) => this.onCube(cube, undefined, (path) => this.http.request<Memory>('POST', path(`/memories/${seg(memoryId)}/restore`))),
    history: async (cube: string, memoryId: string): Promise<MemoryVersion[]> => (await this.onCube(cube, undefined, (path) => this.http.request<Res<'MemoryController_history'>>('GET', path(`/memories/${seg(memoryId)}/history`)))).items,
  };

  readonly chat = {
    /** One chat completion (OpenAI shape); `engram.cube` may be an id or a name. */
    complete: async (request: ChatRequest, options: { signal?: AbortSignal } = {}): Promise<ChatCompletion> =>
      this.http.request<ChatCompletion>('POST', '/v1/chat/completions', { body: await this.chatBody(request, false), signal: options.signal }),
    /** The completion as it is generated: chunks from the server-sent events. */
    stream: async function* (this: EngramClient, request: ChatRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<ChatCompletionChunk> {
      const response = await this.http.request<Response>('POST', '/v1/chat/completions', { body: await this.chatBody(request, true), raw: true, signal: options.signal });
      if (!response.body) return;
      yield* readEventStream<ChatCompletionChunk>(response.body);
    }.bind(this),
  };

  /** Operator routes (the admin token). */
  readonly admin = {
    createTenant: (name: string) => this.http.request<Tenant>('POST', '/v1/admin/tenants', { body: { name } }),
    listTenants: async (): Promise<Tenant[]> => (await this.http.request<Res<'AdminController_listTenants'>>('GET', '/v1/admin/tenants')).items,
    createKey: (tenantId: string, body: Body<'AdminController_createKey'>) => this.http.request<CreatedApiKey>('POST', `/v1/admin/tenants/${seg(tenantId)}/keys`, { body }),
    listKeys: async (tenantId: string): Promise<ApiKey[]> => (await this.http.request<Res<'AdminController_listKeys'>>('GET', `/v1/admin/tenants/${seg(tenantId)}/keys`)).items,
    revokeKey: (tenantId: string, keyId: string) => this.http.request<void>('DELETE', `/v1/admin/tenants/${seg(tenantId)}/keys/${seg(keyId)}`),
  };

  private async chatBody(request: ChatRequest, stream: boolean): Promise<Record<string, unknown>> {
    const { engram, ...rest } = request;
    const body: Record<string, unknown> = { ...rest, stream };
    if (engram) {
      const { cube, ...memory } = engram;
      body.engram = { ...memory, cubeId: await this.cubeId(cube) };
    }
    return body;
  }

  private async *paginate<T>(page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const result = await page(cursor);
      yield* result.items;
      cursor = result.nextCursor ?? undefined;
    } while (cursor);
  }
}
