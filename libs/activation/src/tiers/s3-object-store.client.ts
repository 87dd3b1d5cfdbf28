// A minimal S3-compatible client (AWS S3, MinIO, R2, …) over fetch with Signature V4,
// enough for the KV object tier: GET, PUT, DELETE, HEAD of whole objects. Path-style
// URLs (endpoint/bucket/key) so any compatible server works without DNS setup.
import { createHash, createHmac } from 'node:crypto';
import type { ObjectStoreClient } from './object-store.tier';

export interface S3Config {
  endpoint: string; // e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  host: string;
  /** Already URI-encoded canonical path. */
  path: string;
  query?: string;
  headers: Record<string, string>;
  payloadHash: string;
  amzDate: string; // YYYYMMDDTHHMMSSZ
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** AWS Signature V4 `Authorization` header for an S3 request. */
export function signS3Request(input: SignInput): string {
  const headers: Record<string, string> = { host: input.host };
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v.trim();
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [input.method, input.path, input.query ?? '', canonicalHeaders, signedHeaders, input.payloadHash].join('\n');
  const date = input.amzDate.slice(0, 8);
  const scope = `${date}/${input.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, date), input.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const encodeKey = (key: string): string => key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');

export class S3ObjectStoreClient implements ObjectStoreClient {
  constructor(
    private readonly config: S3Config,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async request(method: string, key: string, body?: Uint8Array): Promise<Response> {
    const url = new URL(this.config.endpoint);
    const path = `${url.pathname.replace(/\/$/, '')}/${encodeURIComponent(this.config.bucket)}/${encodeKey(key)}`;
    const amzDate = this.now().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const payloadHash = sha256Hex(body ?? new Uint8Array(0));
    const headers: Record<string, string> = { 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
    if (this.config.sessionToken) headers['x-amz-security-token'] = this.config.sessionToken;
    headers.authorization = signS3Request({ method, host: url.host, path, headers, payloadHash, amzDate, region: this.config.region, accessKeyId: this.config.accessKeyId, secretAccessKey: this.config.secretAccessKey });
    return this.fetchImpl(`${url.protocol}//${url.host}${path}`, { method, headers, body });
  }

  private static async fail(op: string, key: string, res: Response): Promise<never> {
    throw new Error(`S3 ${op} ${key} failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  }

  async getObject(key: string): Promise<Uint8Array | undefined> {
    const res = await this.request('GET', key);
    if (res.status === 404) return undefined;
    if (!res.ok) return S3ObjectStoreClient.fail('GET', key, res);
    return new Uint8Array(await res.arrayBuffer());
  }

  async putObject(key: string, bytes: Uint8Array): Promise<void> {
    const res = await this.request('PUT', key, bytes);
    if (!res.ok) await S3ObjectStoreClient.fail('PUT', key, res);
  }

  async deleteObject(key: string): Promise<void> {
    const res = await this.request('DELETE', key);
    if (!res.ok && res.status !== 404) await S3ObjectStoreClient.fail('DELETE', key, res);
  }

  async headObject(key: string): Promise<boolean> {
    const res = await this.request('HEAD', key);
    if (res.status === 404) return false;
    if (!res.ok) return S3ObjectStoreClient.fail('HEAD', key, res);
    return true;
  }
}
