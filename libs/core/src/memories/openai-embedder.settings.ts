// Who an `openai` embedder may call, and with which key (ADR 0104). The operator names
// endpoints in ENGRAM_EMBEDDERS and only those receive a key; a tenant chooses one with
// { type: "openai", name }. A tenant's own baseUrl is accepted only when the operator
// allows it, never gets a key, and may reach public addresses only (checked at creation
// and again, pinned, at every connection).
import { EmbeddingEndpointConfig } from '@engram/config';
import { HostResolver, OpenAiEmbedder, openAiEmbeddingsUrl, OutboundRequestError, resolvePublicAddresses } from '@engram/plaintext';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';

export type OpenAiEmbedderSettings =
  /** An endpoint the operator named in ENGRAM_EMBEDDERS (model, dimension and key come from there). */
  | { type: 'openai'; name: string }
  /** A tenant-supplied URL (only with ENGRAM_ALLOW_TENANT_EMBEDDER_URLS); never sent a key. */
  | { type: 'openai'; baseUrl: string; model: string; dimension: number };

export interface OpenAiEndpointPolicy {
  readonly endpoints: Readonly<Record<string, EmbeddingEndpointConfig>>;
  readonly allowTenantUrls: boolean;
  /** Resolver for the address checks (tests inject one). */
  readonly resolve?: HostResolver;
}

export const NO_OPENAI_ENDPOINTS: OpenAiEndpointPolicy = { endpoints: {}, allowTenantUrls: false };

/**
 * Where settings come from: a `request` is checked strictly; `stored` settings (a cube's or
 * a bank's row) are read back leniently so that cubes created before ADR 0104 keep working
 * when the operator names the URL they embed with.
 */
export type SettingsOrigin = 'request' | 'stored';

const has = (endpoints: OpenAiEndpointPolicy['endpoints'], name: string) => Object.hasOwn(endpoints, name);

function availableNames(policy: OpenAiEndpointPolicy): string {
  const names = Object.keys(policy.endpoints).sort();
  return names.length ? `this server names: ${names.join(', ')}` : 'this server names none (ENGRAM_EMBEDDERS)';
}

/** The operator endpoint that serves exactly this URL, model and dimension, if any (the first by name). */
function endpointServing(url: URL, model: string, dimension: number, policy: OpenAiEndpointPolicy): string | null {
  for (const name of Object.keys(policy.endpoints).sort()) {
    const endpoint = policy.endpoints[name];
    if (endpoint.model === model && endpoint.dimension === dimension && openAiEmbeddingsUrl(endpoint.baseUrl).href === url.href) return name;
  }
  return null;
}

/** Validates the `openai` form of `settings.embedder`; `fail` builds the 400. */
export function parseOpenAiSettings(spec: Record<string, unknown>, policy: OpenAiEndpointPolicy, origin: SettingsOrigin, fail: (problem: string) => EngramError): OpenAiEmbedderSettings {
  const unknownFields = (allowed: string[]) => {
    const unknown = Object.keys(spec).filter((k) => !allowed.includes(k));
    if (unknown.length) throw fail(`unknown field(s) for the openai embedder: ${unknown.join(', ')}`);
  };
  if (spec.name !== undefined || spec.baseUrl === undefined) {
    unknownFields(['type', 'name']);
    if (typeof spec.name !== 'string' || (origin === 'request' && !has(policy.endpoints, spec.name))) {
      throw fail(`settings.embedder.name must name an embedding endpoint of this server (${availableNames(policy)}), got ${JSON.stringify(spec.name ?? null)}`);
    }
    return { type: 'openai', name: spec.name };
  }
  unknownFields(['type', 'baseUrl', 'model', 'dimension']);
  if (typeof spec.baseUrl !== 'string') throw fail('settings.embedder.baseUrl must be an http(s) URL of an OpenAI-compatible server');
  let url: URL;
  try {
    url = openAiEmbeddingsUrl(spec.baseUrl);
  } catch (error) {
    throw fail(`settings.embedder.baseUrl ${(error as Error).message}`);
  }
  if (typeof spec.model !== 'string' || !spec.model.trim() || spec.model.length > 200) throw fail('settings.embedder.model must name the embedding model');
  const dimension = spec.dimension;
  if (!Number.isInteger(dimension) || (dimension as number) < 8 || (dimension as number) > 8192) {
    throw fail('settings.embedder.dimension must be an integer between 8 and 8192');
  }
  if (origin === 'stored') {
    const named = endpointServing(url, spec.model, dimension as number, policy);
    if (named) return { type: 'openai', name: named };
  } else if (!policy.allowTenantUrls) {
    throw fail(`settings.embedder.baseUrl: this server does not call embedding URLs chosen by tenants; choose an endpoint the operator named with { "type": "openai", "name": "<name>" } (${availableNames(policy)})`);
  }
  return { type: 'openai', baseUrl: spec.baseUrl, model: spec.model, dimension: dimension as number };
}

/** For a tenant URL: refuses (400) a host that does not resolve or resolves to any non-public address. */
export async function checkTenantUrl(settings: OpenAiEmbedderSettings, policy: OpenAiEndpointPolicy): Promise<void> {
  if (!('baseUrl' in settings)) return;
  try {
    await resolvePublicAddresses(openAiEmbeddingsUrl(settings.baseUrl).hostname, 'settings.embedder.baseUrl', policy.resolve);
  } catch (error) {
    if (error instanceof OutboundRequestError) throw EngramError.validation([{ field: 'settings.embedder', problems: [error.message] }]);
    throw error;
  }
}

/** The embedder for (stored) settings: an operator endpoint with its key, or a tenant URL without one. */
export function createOpenAiEmbedder(settings: OpenAiEmbedderSettings, policy: OpenAiEndpointPolicy): OpenAiEmbedder {
  if ('name' in settings) {
    if (!has(policy.endpoints, settings.name)) {
      throw new EngramError(ErrorCode.Unavailable, `the embedding endpoint "${settings.name}" is not configured on this server (ENGRAM_EMBEDDERS)`);
    }
    const endpoint = policy.endpoints[settings.name];
    return new OpenAiEmbedder({
      baseUrl: endpoint.baseUrl,
      model: endpoint.model,
      dimension: endpoint.dimension,
      apiKey: endpoint.apiKey ?? undefined,
      label: `embedding endpoint "${settings.name}"`,
    });
  }
  const origin = openAiEmbeddingsUrl(settings.baseUrl).origin;
  if (!policy.allowTenantUrls) {
    throw new EngramError(
      ErrorCode.Unavailable,
      `the embedder of this cube is the URL ${origin}, and this server does not call embedding URLs chosen by tenants; ` +
        'the operator can name it in ENGRAM_EMBEDDERS (same baseUrl, model and dimension: the vectors stay valid) or set ENGRAM_ALLOW_TENANT_EMBEDDER_URLS (ADR 0104)',
    );
  }
  // No apiKey, whatever the operator configured: this URL was not named by the operator.
  return new OpenAiEmbedder({
    baseUrl: settings.baseUrl,
    model: settings.model,
    dimension: settings.dimension,
    label: `embedding endpoint ${origin}`,
    publicOnly: true,
    resolve: policy.resolve,
  });
}
