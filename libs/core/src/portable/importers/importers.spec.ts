import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { archiveFromSource, ConversationsImporter, importerFor, jsonElements, LettaImporter, Mem0Importer, MemosImporter, newReport, NothingToImportError, SourceImporter, SourceRecord, sourceSystemsMatching, toUtcIso } from '.';

const FIXTURES = join(process.cwd(), 'test/fixtures/importers');

async function collect(importer: SourceImporter, file: string) {
  const report = newReport();
  const records: SourceRecord[] = [];
  for await (const r of importer.records(join(FIXTURES, file), report)) records.push(r);
  return { records, report, texts: records.map((r) => r.memory.text) };
}

describe('source timestamps', () => {
  it.each([
    ['2026-03-01T09:15:02.118342+00:00', '2026-03-01T09:15:02.118342Z'],
    ['2025-05-20T08:00:00-07:00', '2025-05-20T15:00:00.000Z'],
    ['2026-04-01T07:30:12.000000000+00:00', '2026-04-01T07:30:12.000000Z'],
    ['2025-06-03T00:00:00', '2025-06-03T00:00:00.000Z'],
    ['2025-04-10', '2025-04-10T00:00:00.000Z'],
    ['2023/04/03 (Mon) 08:12', '2023-04-03T08:12:00.000Z'],
    [1714550400, '2024-05-01T08:00:00.000Z'],
    ['07:30 AM on 01 April, 2026', null],
    [null, null],
    // Times an archive would refuse (the whole import with them) are unreadable, not rolled over or passed on.
    ['2026-02-30T00:00:00Z', null],
    ['2023/02/29 (Wed) 08:12', null],
    ['2024-02-29T10:00:00Z', '2024-02-29T10:00:00.000Z'],
    ['0000-01-01T00:00:00Z', null],
    ['+275760-09-13T00:00:00Z', null],
    [1e15, null],
  ])('reads %p as %p', (value, expected) => expect(toUtcIso(value)).toBe(expected));
});

describe('streaming JSON elements', () => {
  it('yields the first element before the file has ended (one element held at a time)', async () => {
    const input = new PassThrough();
    const elements = jsonElements(input, { key: 'results' });
    input.write('{"count": 2, "results": [{"id": "a", "memory": "x [not] {a bracket}"}, ');
    const first = await elements.next();
    expect(first.value).toEqual({ id: 'a', memory: 'x [not] {a bracket}' });
    input.end('"scalar", 3]}');
    const rest: unknown[] = [];
    for await (const e of elements) rest.push(e);
    expect(rest).toEqual(['scalar', 3]);
  });

  it('reads elements split across any chunk boundary, multi-byte characters included', async () => {
    const doc = JSON.stringify([{ t: 'Zoë 🍵 東京' }, { t: 'a\\"b' }, [1, [2]], 'x']);
    for (const size of [1, 2, 3, 7]) {
      const input = new PassThrough();
      const out: unknown[] = [];
      const reading = (async () => {
        for await (const e of jsonElements(input)) out.push(e);
      })();
      const bytes = Buffer.from(doc, 'utf8');
      for (let i = 0; i < bytes.length; i += size) input.write(bytes.subarray(i, i + size));
      input.end();
      await reading;
      expect(out).toEqual(JSON.parse(doc));
    }
  });

  it('says when the file is truncated or has no list', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-json-'));
    try {
      writeFileSync(join(dir, 'cut.json'), '[{"a": 1}, {"b":');
      await expect((async () => { for await (const _ of jsonElements(join(dir, 'cut.json'))) void _; })()).rejects.toThrow(/truncated/);
      writeFileSync(join(dir, 'obj.json'), '{"other": []}');
      await expect((async () => { for await (const _ of jsonElements(join(dir, 'obj.json'), { key: 'results' })) void _; })()).rejects.toThrow(/no "results" list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('file encodings', () => {
  const read = async (importer: SourceImporter, file: string) => {
    const records: SourceRecord[] = [];
    for await (const r of importer.records(file, newReport())) records.push(r);
    return records.map((r) => r.memory.text);
  };

  it('refuses a file that is not UTF-8 instead of storing U+FFFD for its bytes, reads a UTF-8 byte order mark, names UTF-16', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-enc-'));
    try {
      const mem0 = JSON.stringify([{ id: 'a', memory: 'Likes café au lait' }]);
      writeFileSync(join(dir, 'latin1.json'), Buffer.from(mem0, 'latin1'));
      await expect(read(new Mem0Importer(), join(dir, 'latin1.json'))).rejects.toThrow(/the file is not UTF-8 text .*convert it to UTF-8/);
      writeFileSync(join(dir, 'latin1.af'), Buffer.from(JSON.stringify({ agents: [], blocks: [{ id: 'block-0', label: 'human', value: 'Café owner' }] }), 'latin1'));
      await expect(read(new LettaImporter(), join(dir, 'latin1.af'))).rejects.toThrow(/the file is not UTF-8 text/);
      writeFileSync(join(dir, 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(mem0, 'utf8')]));
      expect(await read(new Mem0Importer(), join(dir, 'bom.json'))).toEqual(['Likes café au lait']);
      writeFileSync(join(dir, 'bom.af'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ agents: [], blocks: [{ id: 'block-0', label: 'human', value: 'Café owner' }] }), 'utf8')]));
      expect(await read(new LettaImporter(), join(dir, 'bom.af'))).toEqual(['Café owner']);
      writeFileSync(join(dir, 'utf16.json'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(mem0, 'utf16le')]));
      await expect(read(new Mem0Importer(), join(dir, 'utf16.json'))).rejects.toThrow(/the file is UTF-16 text .*save it as UTF-8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mem0 importer', () => {
  it('maps get_all items: scope ids to tags and source, history to versions, UTC times, duplicates and empty items left out', async () => {
    const { records, report, texts } = await collect(new Mem0Importer(), 'mem0-get-all.json');
    expect(texts).toEqual(['Prefers aisle seats on long flights', 'Allergic to peanuts', 'Zoë préfère le thé vert 🍵 — 東京に住んでいる', 'Gym membership ends soon']);
    expect(report).toEqual({ read: 7, written: 0, duplicates: 2, skipped: { 'no id or no memory text': 1 } });
    const aisle = records[0];
    expect(aisle.memory).toMatchObject({
      kind: 'fact',
      tags: ['user:ana', 'agent:travel-bot'],
      metadata: { source: 'onboarding' },
      source: { type: 'mem0', userId: 'ana', agentId: 'travel-bot', hash: '5f1c0d0e9a1b2c3d4e5f60718293a4b5' },
      created_at: '2026-03-01T09:15:02.118342Z',
      version: 2,
    });
    expect(aisle.memory.metadata).not.toHaveProperty('text_lemmatized');
    expect(aisle.versions.map((v) => [v.action, (v.old_values as { text?: string } | null)?.text ?? null, (v.new_values as { text: string }).text])).toEqual([
      ['create', null, 'Prefers aisle seats'],
      ['update', 'Prefers aisle seats', 'Prefers aisle seats on long flights'],
    ]);
    // Old mem0 wrote US/Pacific times: normalised to UTC.
    expect(records[1].memory.created_at).toBe('2025-05-20T15:00:00.000Z');
    expect(records[2].memory).toMatchObject({ kind: 'procedure', role: 'user', session_id: 'trip-2026', tags: ['user:zoë', 'run:trip-2026'], created_at: null });
    expect(records[3].memory.expires_at).toBe('2026-12-31T00:00:00.000Z');
  });

  it('reads the TypeScript library shape: a bare list, camelCase times, history newest first', async () => {
    const { records } = await collect(importerFor('mem0'), 'mem0-ts-list.json');
    expect(records.map((r) => r.memory.created_at)).toEqual(['2026-02-02T10:00:00.000000Z', '2026-02-03T10:00:00.000000Z']);
    expect(records[0].memory.metadata).toEqual({ attributedTo: 'user' });
    expect(records[1].versions.map((v) => (v.new_values as { text: string }).text)).toEqual(['Team standup at 9:00', 'Team standup at 9:30']);
    // The legacy camelCase scope key in metadata is read as the user scope.
    expect(records[1].memory).toMatchObject({ tags: ['user:ana'], metadata: {} });
  });

  it("reads an OpenMemory backup's memories.json (it converted nothing): deleted left out, paused and archived kept archived, apps and categories as tags", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-openmemory-'));
    try {
      const file = join(dir, 'memories.json');
      const memory = (id: string, content: string, state: string, extra: Record<string, unknown> = {}) => ({ id, user_id: '9d0c1e2f-0000-4000-8000-000000000001', app_id: 'app-1', content, metadata: {}, state, created_at: '2026-03-01T09:15:02+00:00', updated_at: null, archived_at: null, deleted_at: null, category_ids: ['cat-1'], ...extra });
      writeFileSync(
        file,
        JSON.stringify({
          user: { id: '9d0c1e2f-0000-4000-8000-000000000001', user_id: 'ana', name: 'Ana' },
          apps: [{ id: 'app-1', name: 'cursor' }],
          categories: [{ id: 'cat-1', name: 'travel' }],
          memories: [
            memory('6b0f5d1e-2c44-4f0a-9a51-0c7e2f9b1d33', 'Prefers aisle seats', 'active'),
            memory('7b0f5d1e-2c44-4f0a-9a51-0c7e2f9b1d33', 'Used to fly from Lisbon', 'archived', { archived_at: '2026-04-01T00:00:00+00:00' }),
            memory('8b0f5d1e-2c44-4f0a-9a51-0c7e2f9b1d33', 'Is planning a trip to Japan', 'paused'),
            memory('9b0f5d1e-2c44-4f0a-9a51-0c7e2f9b1d33', 'Asked to forget this', 'deleted', { deleted_at: '2026-05-01T00:00:00+00:00' }),
          ],
          memory_categories: [],
          status_history: [],
          access_controls: [],
          export_meta: { app_id_filter: null, from_date: null, to_date: null, version: '1', generated_at: '2026-06-01T00:00:00+00:00' },
        }),
      );
      const report = newReport();
      const records: SourceRecord[] = [];
      for await (const r of new Mem0Importer().records(file, report)) records.push(r);
      expect(records.map((r) => [r.memory.text, r.memory.state, r.memory.tags])).toEqual([
        ['Prefers aisle seats', 'active', ['app:cursor', 'travel']],
        ['Used to fly from Lisbon', 'archived', ['app:cursor', 'travel']],
        ['Is planning a trip to Japan', 'archived', ['app:cursor', 'travel']],
      ]);
      expect(records[2].memory.metadata).toEqual({ openmemoryState: 'paused' });
      expect(records[0].memory.source).not.toHaveProperty('userId');
      expect(report).toMatchObject({ read: 4, skipped: { 'deleted in OpenMemory': 1 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps metadata that is a list or a value, and a role too long for a memory, instead of dropping or refusing them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-mem0-'));
    try {
      const long = 'a role written as a sentence by some integration, far longer than sixty-four characters';
      writeFileSync(join(dir, 'odd.json'), JSON.stringify([
        { id: 'a', memory: 'Likes tea', metadata: ['morning', 'green'] },
        { id: 'b', memory: 'Likes coffee', metadata: 'imported', role: long },
        { id: 'c', memory: 'Likes water', metadata: null, role: 'user' },
      ]));
      const report = newReport();
      const records: SourceRecord[] = [];
      for await (const r of new Mem0Importer().records(join(dir, 'odd.json'), report)) records.push(r);
      expect(records.map((r) => [r.memory.role, r.memory.metadata])).toEqual([
        [null, { value: ['morning', 'green'] }],
        [null, { value: 'imported', role: long }],
        ['user', {}],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes history from a separate history.db dump (--history), by memory id', async () => {
    const report = newReport();
    const records: SourceRecord[] = [];
    for await (const r of new Mem0Importer(join(FIXTURES, 'mem0-history.json')).records(join(FIXTURES, 'mem0-ts-list.json'), report)) records.push(r);
    expect(records[0].memory).toMatchObject({ text: 'Works remotely on Fridays', version: 2 });
    expect(records[0].versions.map((v) => [v.action, (v.new_values as { text: string }).text, v.at])).toEqual([
      ['create', 'Works remotely on Mondays', '2026-02-01T10:00:00.000Z'],
      ['update', 'Works remotely on Fridays', '2026-02-02T10:00:00.000Z'],
    ]);
    // Its own embedded history wins over the file.
    expect(records[1].versions.map((v) => (v.new_values as { text: string }).text)).toEqual(['Team standup at 9:00', 'Team standup at 9:30']);
  });
});

describe('letta importer', () => {
  it('imports core memory blocks as facts and the conversation as messages, without system events or tool returns', async () => {
    const { records, report, texts } = await collect(new LettaImporter(), 'letta-agent.af');
    expect(texts).toEqual([
      'Name: Rui\nCity: Porto (moved Feb 2026)',
      'I am a friendly guide to northern Portugal.',
      'I just moved to Porto.',
      'Welcome to Porto! Olá 👋',
      'Where should I eat francesinha?',
      "Rui's favourite football club is FC Porto.",
    ]);
    expect(records[0].memory).toMatchObject({ kind: 'fact', tags: ['letta', 'core-memory', 'block:human'], metadata: { letta: { label: 'human', limit: 20000, usedBy: ['porto-helper'] } } });
    expect(records[3].memory).toMatchObject({ kind: 'message', role: 'assistant', session_id: 'letta:agent-0', created_at: '2026-02-10T14:03:13.000000Z' });
    expect(records[4].memory.created_at).toBeNull();
    expect(report.skipped).toEqual({ 'empty core memory block': 1, 'system message': 1, 'system event sent as a user message': 1, 'tool message': 1 });
  });

  it('reads the legacy v1 agent shape', async () => {
    const { texts, records } = await collect(new LettaImporter(), 'letta-legacy.af');
    expect(texts).toEqual(['The user asks big questions.', 'What is the answer?', 'Forty-two.']);
    expect(records[0].memory.metadata).toMatchObject({ letta: { metadata: { v: 1 } } });
  });

  it('keeps one record per id when a file lists a block, message or passage id twice (the archive refuses repeated ids)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-letta-'));
    try {
      const message = (id: string, text: string, at: string) => ({ type: 'message', id, agent_id: 'agent-0', role: 'user', content: [{ type: 'text', text }], created_at: at });
      const file = join(dir, 'repeated.af');
      writeFileSync(
        file,
        JSON.stringify({
          agents: [
            { id: 'agent-0', name: 'helper', block_ids: ['block-0'], messages: [message('message-1', 'I moved to Porto.', '2026-02-10T14:00:00Z'), message('message-1', 'Edited copy of the same message', '2026-02-10T15:00:00Z')] },
            { id: 'agent-0', name: 'helper again', messages: [message('message-1', 'A third text under the same agent and message id', '2026-02-11T09:00:00Z')] },
          ],
          blocks: [{ id: 'block-0', label: 'human', value: 'Name: Rui' }, { id: 'block-0', label: 'human', value: 'Name: Rui (copy)' }],
          passages: [{ id: 'passage-1', text: 'Archival one' }, { id: 'passage-1', text: 'Archival one again' }],
        }),
      );
      const report = newReport();
      const records: SourceRecord[] = [];
      for await (const r of new LettaImporter().records(file, report)) records.push(r);
      expect(records.map((r) => r.memory.text)).toEqual(['Name: Rui', 'I moved to Porto.', 'Archival one']);
      expect(new Set(records.map((r) => r.memory.id)).size).toBe(records.length);
      expect(report).toMatchObject({ read: 7, duplicates: 4 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('memos importer', () => {
  it('reads a tree_text dump folder: history to versions, double-encoded sources, one copy of a WorkingMemory duplicate, deleted left out', async () => {
    const { records, report, texts } = await collect(new MemosImporter(), 'memos-tree');
    expect(texts).toEqual(['The user is training for a half marathon in October 2026.', '用户喜欢在早上喝咖啡。', 'Old plan: run a full marathon in 2025.']);
    expect(report.duplicates).toBe(1);
    expect(report.skipped).toEqual({ 'deleted in MemOS': 1 });
    const first = records[0];
    expect(first.memory).toMatchObject({ kind: 'fact', session_id: 's-0401', importance: 0.95, tags: ['running', 'LongTermMemory'], created_at: '2026-04-01T07:30:12.000000Z', version: 2 });
    expect(JSON.parse((first.memory.source as { refs: string[] }).refs[0])).toMatchObject({ type: 'chat', role: 'user', content: "I'm training for a half" });
    expect(first.versions.map((v) => (v.new_values as { text: string }).text)).toEqual(['The user runs on weekends.', 'The user is training for a half marathon in October 2026.']);
    expect(records[1].memory.importance).toBe(1);
    expect(records[2].memory).toMatchObject({ state: 'archived', kind: 'episode' });
  });

  it('reads every collection of a pref_text dump (only the first was read), and keeps confidence within 0–1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-memos-'));
    try {
      const item = (id: string, memory: string, metadata: Record<string, unknown>) => ({ id, memory, metadata: { user_id: 'u-42', status: 'activated', ...metadata } });
      const file = join(dir, 'textual_memory.json');
      writeFileSync(
        file,
        JSON.stringify({
          'explicit_preference': [item('11111111-1111-4111-8111-111111111111', 'Prefers green tea', { preference_type: 'explicit_preference', confidence: 150 })],
          'note "with" quotes': 'not a list',
          implicit_preference: [item('22222222-2222-4222-8222-222222222222', 'Seems to like quiet cafés', { preference_type: 'implicit_preference', confidence: -5 }), item('33333333-3333-4333-8333-333333333333', 'Reads before sleeping', { confidence: 0.4 })],
        }),
      );
      const report = newReport();
      const records: SourceRecord[] = [];
      for await (const r of new MemosImporter().records(file, report)) records.push(r);
      expect(records.map((r) => [r.memory.text, r.memory.importance])).toEqual([
        ['Prefers green tea', 1],
        ['Seems to like quiet cafés', 0],
        ['Reads before sleeping', 0.4],
      ]);
      expect(report.read).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a general_text dump (payload-wrapped items)', async () => {
    const { records } = await collect(new MemosImporter(), 'memos-general.json');
    expect(records[0].memory).toMatchObject({ text: 'User visited Kyoto in spring.', kind: 'episode', created_at: '2025-04-10T00:00:00.000Z', importance: 0.99, metadata: { memos: { entities: ['Kyoto'] } } });
  });
});

describe('conversations importer', () => {
  it('reads LongMemEval instances: turns as messages with session ids and session times, a repeated session once', async () => {
    const { records, report } = await collect(new ConversationsImporter(), 'longmemeval-sample.json');
    expect(records.map((r) => [r.memory.session_id, r.memory.role, r.memory.text])).toEqual([
      ['answer_9f3c_1', 'user', 'My sister lives in Madrid.'],
      ['answer_9f3c_1', 'assistant', 'Nice city!'],
      ['sharegpt_Xy12_0', 'user', 'Any quick pasta ideas?'],
      ['sharegpt_Xy12_0', 'assistant', 'Try aglio e olio.'],
      ['answer_9f3c_2', 'user', 'My sister just moved to Lisbon.'],
      ['answer_9f3c_2', 'assistant', 'Big change!'],
      ['ultrachat_77_1', 'user', 'Explain the café au lait — naïvely.'],
      ['ultrachat_77_1', 'assistant', 'Coffee with hot milk ☕.'],
    ]);
    expect(report.duplicates).toBe(4);
    expect(records[0].memory).toMatchObject({ kind: 'message', observed_at: '2023-04-03T08:12:00.000Z', metadata: { turnIndex: 0, hasAnswer: true }, tags: ['question:q_demo_01'] });
  });

  it('reads plain sessions, per-turn times over the session time, and leaves out turns without role or text', async () => {
    const { records, report } = await collect(new ConversationsImporter(), 'conversations.json');
    expect(records.map((r) => [r.memory.session_id, r.memory.text, r.memory.observed_at])).toEqual([
      ['s1', 'I adopted a cat named Miso.', '2024-05-01T09:00:00.000Z'],
      ['s1', 'Miso is a lovely name!', '2024-05-01T09:00:05.000Z'],
      ['s2', 'No time on this session at all.', null],
    ]);
    expect(report.skipped).toEqual({ 'turn without role or content': 2 });
  });
});

describe('conversations importer, a session id twice', () => {
  it('continues the session when its turns differ (they were dropped as duplicates) and drops an identical repeat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-conv-'));
    try {
      const file = join(dir, 'sessions.json');
      const morning = [{ role: 'user', content: 'I adopted a cat.' }, { role: 'assistant', content: 'Congratulations!' }];
      writeFileSync(file, JSON.stringify([{ id: 'daily', date: '2024-05-01T09:00:00Z', turns: morning }, { id: 'daily', date: '2024-05-01T18:00:00Z', turns: [{ role: 'user', content: 'The cat is called Miso.' }] }, { id: 'daily', date: '2024-05-01T09:00:00Z', turns: morning }]));
      const report = newReport();
      const records: SourceRecord[] = [];
      for await (const r of new ConversationsImporter().records(file, report)) records.push(r);
      expect(records.map((r) => [r.memory.id, r.memory.text, r.memory.observed_at])).toEqual([
        ['daily#0', 'I adopted a cat.', '2024-05-01T09:00:00.000Z'],
        ['daily#1', 'Congratulations!', '2024-05-01T09:00:00.000Z'],
        ['daily#2', 'The cat is called Miso.', '2024-05-01T18:00:00.000Z'],
      ]);
      expect(report).toMatchObject({ read: 5, duplicates: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a file of another system', () => {
  it('is refused when nothing in it converts, with what the system expects, before any archive is made', async () => {
    await expect(archiveFromSource(new LettaImporter(), join(FIXTURES, 'conversations.json'), { cubeName: 'c' })).rejects.toThrow(NothingToImportError);
    await expect(archiveFromSource(new MemosImporter(), join(FIXTURES, 'longmemeval-sample.json'), { cubeName: 'c' })).rejects.toThrow(
      /^nothing in .*longmemeval-sample\.json converts as a memos export \(expected a MemOS dump folder or its textual_memory\.json\); read 2 items, skipped: 2 not a textual memory item$/,
    );
  });

  it('is matched to the systems whose converters read it', async () => {
    expect(await sourceSystemsMatching(join(FIXTURES, 'longmemeval-sample.json'))).toEqual(['conversations']);
    expect(await sourceSystemsMatching(join(FIXTURES, 'letta-agent.af'))).toEqual(['letta']);
    expect(await sourceSystemsMatching(join(FIXTURES, 'memos-tree'))).toEqual(['memos']);
    expect(await sourceSystemsMatching(join(FIXTURES, 'mem0-get-all.json'), ['letta', 'conversations'])).toEqual([]);
  });
});
