import { createE2eHarness, E2eHarness } from '@engram/testing';

/** ENGRAM_METRICS_TOKEN: /metrics answers a scrape that brings the token, and 401 otherwise. */
describe('/metrics with ENGRAM_METRICS_TOKEN', () => {
  const token = 'scrape-0123456789abcdef';
  let h: E2eHarness;

  beforeAll(async () => {
    h = await createE2eHarness({ metricsToken: token });
  });
  afterAll(() => h.close());

  it('answers the token, and 401 without it, with another token or with the admin token', async () => {
    const ok = await h.http.get('/metrics').set('Authorization', `Bearer ${token}`).expect(200);
    expect(ok.text).toContain('engram_db_pool_connections');
    expect(ok.headers['content-type']).toMatch(/^text\/plain;.*version=0.0.4/); // Prometheus' text format
    for (const authorization of [undefined, 'Bearer scrape-0123456789abcdeX', `Bearer ${h.adminToken}`, token]) {
      const req = h.http.get('/metrics');
      const res = await (authorization ? req.set('Authorization', authorization) : req);
      expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([401, 'unauthenticated', '/metrics needs Authorization: Bearer <ENGRAM_METRICS_TOKEN>']);
    }
    await h.http.get('/health').expect(200); // health stays public
  });
});
