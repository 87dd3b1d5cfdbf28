// Scores the conversational multi-hop proxy (conversational-hotpot.ts) for the retrieval
// bench: one cube per conversation, one memory per turn (both speakers as 'user' turns, as
// two people's conversation would be stored), each question of the split asked of its own
// conversation. Turn recall@10 over the supporting sentences, all@10 (both hops' sentences),
// the share of questions with a gold turn of each hop's session in the top 10, and turn MRR.
import { CubeIndex, SearchHit } from '@engram/plaintext';
import { BenchEmbedder } from './embedding-cache';
import { EvalSplit, splitItems } from './eval-split';
import { buildConversations, HotpotRow } from './conversational-hotpot';

export interface ConvRow {
  readonly type: string;
  readonly recall10: number;
  readonly all10: number;
  readonly bothSessions10: number;
  readonly mrr: number;
}

export async function runConversationalHotpot<V extends { readonly name: string }>(
  rows: readonly HotpotRow[],
  split: EvalSplit,
  embedder: BenchEmbedder,
  variants: readonly V[],
  search: (index: CubeIndex, v: V, query: string, vector: ArrayLike<number> | null, options: { topK: number; referenceTime: number }) => SearchHit[],
  bm25: { k1?: number; b?: number },
): Promise<{ table: Map<string, ConvRow[]>; questions: number; memories: number; conversations: number }> {
  const conversations = buildConversations(rows);
  const asked = new Set(splitItems(rows, split, (r) => r._id, (r) => r.type).map((r) => r._id));
  await embedder.prepare(conversations.flatMap((c) => [...c.turns.map((t) => t.text), ...c.questions.map((q) => q.question)]), 'conversational HotpotQA texts');
  const table = new Map<string, ConvRow[]>(variants.map((v) => [v.name, []]));
  let questions = 0;
  let memories = 0;
  for (const conv of conversations) {
    const index = new CubeIndex({ dimension: embedder.dimension, bm25 });
    index.upsertMany(
      conv.turns.map((t) => ({
        label: t.label,
        text: t.text,
        vector: embedder.embedOne(t.text),
        kind: 'message' as const,
        role: 'user',
        sessionId: t.sessionId,
        position: t.position,
        observedAt: t.observedAt,
        metadata: { speaker: t.speaker },
      })),
    );
    memories += conv.turns.length;
    const sessionOf = new Map(conv.turns.map((t) => [t.label, t.sessionId]));
    const last = conv.turns[conv.turns.length - 1].observedAt;
    for (const q of conv.questions) {
      if (!asked.has(q.id) || q.gold.size === 0) continue;
      questions++;
      const vector = embedder.embedOne(q.question);
      for (const v of variants) {
        const hits = search(index, v, q.question, vector, { topK: 10, referenceTime: last + 86_400_000 }).map((h) => h.label);
        const found = hits.filter((h) => q.gold.has(h));
        const first = hits.findIndex((h) => q.gold.has(h));
        const sessionsFound = new Set(found.map((h) => sessionOf.get(h)));
        table.get(v.name)!.push({
          type: q.type,
          recall10: found.length / q.gold.size,
          all10: found.length === q.gold.size ? 1 : 0,
          bothSessions10: [...q.goldSessions].every((s) => sessionsFound.has(s)) ? 1 : 0,
          mrr: first >= 0 ? 1 / (first + 1) : 0,
        });
      }
    }
  }
  return { table, questions, memories, conversations: conversations.length };
}

/** Prints the proxy's table (per variant and HotpotQA type) and returns the final variant's figures. */
export function printConversationalHotpot(
  result: { table: Map<string, ConvRow[]>; questions: number; memories: number; conversations: number },
  split: EvalSplit,
  finalName: string,
): Record<string, number> {
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const f = (x: number): string => x.toFixed(3);
  console.log(
    `\n## Conversational HotpotQA (multi-hop proxy) — ${result.questions} questions (split ${split}), ${result.conversations} conversations, ${result.memories} turns\n`,
  );
  console.log('| variant | type | n | turn R@10 | all@10 | both hops\' sessions@10 | turn MRR |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, rows] of result.table) {
    for (const type of ['all', 'bridge', 'comparison']) {
      const r = rows.filter((x) => type === 'all' || x.type === type);
      console.log(`| ${name} | ${type} | ${r.length} | ${f(mean(r.map((x) => x.recall10)))} | ${f(mean(r.map((x) => x.all10)))} | ${f(mean(r.map((x) => x.bothSessions10)))} | ${f(mean(r.map((x) => x.mrr)))} |`);
    }
  }
  const r = result.table.get(finalName) ?? [];
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { turnR10: round(mean(r.map((x) => x.recall10))), all10: round(mean(r.map((x) => x.all10))), bothSessions10: round(mean(r.map((x) => x.bothSessions10))), mrr: round(mean(r.map((x) => x.mrr))) };
}
