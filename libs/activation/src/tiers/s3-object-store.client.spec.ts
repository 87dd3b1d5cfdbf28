import { S3ObjectStoreClient, signS3Request } from './s3-object-store.client';

describe('signS3Request', () => {
  it('matches the AWS Signature V4 example "GET Object"', () => {
    // From the Amazon S3 API reference, "Signature Calculations for the Authorization Header".
    const auth = signS3Request({
      method: 'GET',
      host: 'examplebucket.s3.amazonaws.com',
      path: '/test.txt',
      headers: {
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
      },
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      amzDate: '20130524T000000Z',
      region: 'us-east-1',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    expect(auth).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});

describe('S3ObjectStoreClient', () => {
  it('sends signed path-style requests and maps 404 to absent', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fake = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      if (init.method === 'GET') return new Response(null, { status: 404 });
      return new Response(null, { status: 200 });
    }) as unknown as typeof fetch;
    const client = new S3ObjectStoreClient(
      { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'kv', accessKeyId: 'a', secretAccessKey: 's' },
      fake,
      () => new Date('2026-01-02T03:04:05.678Z'),
    );
    await client.putObject('kv/ab cd', Uint8Array.of(1, 2));
    expect(await client.getObject('kv/ab cd')).toBeUndefined();
    expect(calls[0].url).toBe('http://127.0.0.1:9000/kv/kv/ab%20cd');
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers['x-amz-date']).toBe('20260102T030405Z');
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=a\/20260102\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });

  it('reports a failed request with its status', async () => {
    const fake = (async () => new Response('denied', { status: 403 })) as unknown as typeof fetch;
    const client = new S3ObjectStoreClient({ endpoint: 'http://s3', region: 'r', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's' }, fake);
    await expect(client.putObject('k', Uint8Array.of(1))).rejects.toThrow(/S3 PUT k failed: HTTP 403 denied/);
  });
});
