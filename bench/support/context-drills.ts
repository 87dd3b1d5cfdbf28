// "Read the context" drills for the anchor of bench:memory-os (ADR 0404). Values are drawn
// afresh for every drill, so there is nothing to memorise; drill people are never the
// people the bench evaluates on.
//   short:   3–6 facts, then one of them again; every token scored (the bench's default).
//   context: a context of facts, from a few to `maxTokens`, then some of them again; the
//            loss scores only the repeated facts' values, which can be predicted only by
//            finding the fact earlier in the context — the shape of the bench's prompts
//            (a working memory of facts, then a question that is a fact's first words).
//   lookup:  like context, but a share of the drills (`sameAttribute`) holds facts of ONE
//            attribute only, so copying "a value of the asked attribute" scores 1 / facts
//            and only finding the named person's fact pays (ADR 0404, 2026-11-30).
//   prefixed: the shape of the product's prompt (ADR 0404, 2026-12-01): a prefix of other
//            people's facts (a working memory, 0 to `maxTokens`), then one person's facts
//            (what retrieval puts right before the question) and one of them again; only
//            the person's facts and the repeat are scored.
import { ATTRIBUTES, type Person, type WordTokenizer } from './parametric-world';

export type DrillKind = 'short' | 'context' | 'lookup' | 'prefixed';

export function parseDrillKind(raw: string): DrillKind {
  if (raw === 'short' || raw === 'context' || raw === 'lookup' || raw === 'prefixed') return raw;
  throw new Error(`--drill-kind must be short, context, lookup or prefixed (got ${raw})`);
}

const factOf = (p: Person, a: number, v: string): string => ATTRIBUTES[a].templates[0].replace('{n}', p.name).replace('{v}', v);

export interface ContextDrill {
  ids: number[];
  /** `mask[s]` set: the prediction of ids[s] is scored (trainAnchorOnnx's `lossMasks`). */
  mask: boolean[];
}

export interface ContextDrillOptions {
  /** Longest drill, in tokens (the model's window, less room for the repeats). */
  maxTokens: number;
  /** Shortest context, in facts. */
  minFacts?: number;
  /** Context lengths are drawn as minFacts + (max − minFacts) · u^skew: > 1 favours short ones. */
  skew?: number;
  /** Repeated facts per context fact (at least 2 repeats). */
  repeatShare?: number;
}

const TOKENS_PER_FACT = 7; // the longest phrasing: "<first> <last> was born in <year> ."

/** 3–6 facts of drill people, then one of them again; every target scored. */
export function shortDrill(people: readonly Person[], tok: WordTokenizer, rnd: () => number): ContextDrill {
  const picked = Array.from({ length: 3 + Math.floor(rnd() * 4) }, () => {
    const p = people[Math.floor(rnd() * people.length)];
    const a = Math.floor(rnd() * ATTRIBUTES.length);
    return factOf(p, a, ATTRIBUTES[a].values[Math.floor(rnd() * ATTRIBUTES[a].values.length)]);
  });
  const ids = tok.encode([...picked, picked[Math.floor(rnd() * picked.length)]].join(' '));
  return { ids, mask: ids.map(() => true) };
}

export function contextDrill(people: readonly Person[], tok: WordTokenizer, rnd: () => number, options: ContextDrillOptions): ContextDrill {
  const minFacts = options.minFacts ?? 3;
  const share = options.repeatShare ?? 0.1;
  // Room for the context and its repeats.
  const maxFacts = Math.max(minFacts, Math.floor(options.maxTokens / TOKENS_PER_FACT / (1 + share)) - 2);
  const facts = minFacts + Math.floor((maxFacts - minFacts + 1) * Math.pow(rnd(), options.skew ?? 1.5));
  const repeats = Math.max(2, Math.round(facts * share));
  const context = drawFacts(people, rnd, Math.min(facts, people.length * ATTRIBUTES.length), () => Math.floor(rnd() * ATTRIBUTES.length));
  const questions = Array.from({ length: repeats }, () => context[Math.floor(rnd() * context.length)]);
  return encodeDrill(tok, context, questions);
}

export interface LookupDrillOptions {
  /** Most facts in a context (at least 2). */
  maxFacts: number;
  /** Context lengths are drawn as 2 + (maxFacts − 1) · u^skew: > 1 favours short ones. */
  skew?: number;
  /** Share of the drills whose facts all have the same attribute. */
  sameAttribute?: number;
  /** Questions per context fact (at least 2); each is a context fact again, its value scored. */
  questionShare?: number;
}

/** A context of 2..maxFacts facts (distinct person × attribute, values drawn per drill), then questions scored on their values only. */
export function lookupDrill(people: readonly Person[], tok: WordTokenizer, rnd: () => number, options: LookupDrillOptions): ContextDrill {
  const facts = 2 + Math.floor((Math.max(2, options.maxFacts) - 1) * Math.pow(rnd(), options.skew ?? 1));
  const same = rnd() < (options.sameAttribute ?? 0.5);
  const only = Math.floor(rnd() * ATTRIBUTES.length);
  const context = drawFacts(people, rnd, Math.min(facts, same ? people.length : people.length * ATTRIBUTES.length), () => (same ? only : Math.floor(rnd() * ATTRIBUTES.length)));
  const questions = Array.from({ length: Math.max(2, Math.round(context.length * (options.questionShare ?? 0.3))) }, () => context[Math.floor(rnd() * context.length)]);
  return encodeDrill(tok, context, questions);
}

export interface PrefixedDrillOptions {
  /** Longest prefix, in tokens (the working memory's budget). */
  maxTokens: number;
  /** Prefix lengths are drawn as maxTokens · u^skew: > 1 favours short ones. */
  skew?: number;
  /** The person's facts asked again at the end (default 1). */
  questions?: number;
  /** 'tail' (default): the person's facts and the questions, every token; 'answers': the questions' values only. */
  score?: 'tail' | 'answers';
}

/**
 * Other people's facts (0..maxTokens tokens), then 1–4 facts of one person in random order
 * and one of them again. Every fact of the drill is a distinct person × attribute with one
 * value, so the prefix never contradicts the end; the person's facts and the repeat are scored.
 */
export function prefixedDrill(people: readonly Person[], tok: WordTokenizer, rnd: () => number, options: PrefixedDrillOptions): ContextDrill {
  const prefixFacts = Math.floor((Math.pow(rnd(), options.skew ?? 1) * options.maxTokens) / TOKENS_PER_FACT);
  const person = people[Math.floor(rnd() * people.length)];
  const own = ATTRIBUTES.map((_, a) => a);
  for (let i = own.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [own[i], own[j]] = [own[j], own[i]];
  }
  own.length = 1 + Math.floor(rnd() * ATTRIBUTES.length);
  const prefix = drawFacts(people.filter((p) => p !== person), rnd, Math.min(prefixFacts, (people.length - 1) * ATTRIBUTES.length), () => Math.floor(rnd() * ATTRIBUTES.length));
  const tail = own.map((a) => ({ p: person, a, v: ATTRIBUTES[a].values[Math.floor(rnd() * ATTRIBUTES[a].values.length)] }));
  const questions = Array.from({ length: options.questions ?? 1 }, () => tail[Math.floor(rnd() * tail.length)]);
  if (options.score === 'answers') return encodeDrill(tok, [...prefix, ...tail], questions);
  const ids = [tok.bos];
  const mask = [false];
  for (const [f, scored] of [...prefix.map((f) => [f, false] as const), ...[...tail, ...questions].map((f) => [f, true] as const)]) {
    for (const w of ATTRIBUTES[f.a].templates[0].replace('{n}', f.p.name).split(' ')) {
      ids.push(tok.ids.get(w === '{v}' ? f.v : w) ?? tok.unk);
      mask.push(scored);
    }
  }
  return { ids, mask };
}

interface DrillFact {
  p: Person;
  a: number;
  v: string;
}

/** `count` distinct person × attribute pairs (`attribute` draws each one's attribute), one value per pair for the whole drill. */
function drawFacts(people: readonly Person[], rnd: () => number, count: number, attribute: () => number): DrillFact[] {
  const seen = new Set<string>();
  const facts: DrillFact[] = [];
  while (facts.length < count) {
    const p = people[Math.floor(rnd() * people.length)];
    const a = attribute();
    if (seen.has(`${p.id}/${a}`)) continue;
    seen.add(`${p.id}/${a}`);
    facts.push({ p, a, v: ATTRIBUTES[a].values[Math.floor(rnd() * ATTRIBUTES[a].values.length)] });
  }
  return facts;
}

/** The context's facts, then the questions (context facts again), only the questions' values scored. */
function encodeDrill(tok: WordTokenizer, context: readonly DrillFact[], questions: readonly DrillFact[]): ContextDrill {
  const ids = [tok.bos];
  const mask = [false];
  const put = (f: DrillFact, scored: boolean): void => {
    for (const w of ATTRIBUTES[f.a].templates[0].replace('{n}', f.p.name).split(' ')) {
      ids.push(tok.ids.get(w === '{v}' ? f.v : w) ?? tok.unk);
      mask.push(scored && w === '{v}');
    }
  };
  for (const f of context) put(f, false);
  for (const f of questions) put(f, true);
  return { ids, mask };
}
