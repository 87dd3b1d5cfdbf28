// Session context: how well the conversation around each candidate matches — the session's
// lexical score (see RankingOptions.sessionScoring) and, by contextDenseWeight, the best
// fused candidate turn of the session — blended into the document's score.
import { DocumentStore } from '../store/document-store';
import { Candidate } from './candidate';
import { SearchQuery } from './search-query';

export function blendSessionContext(q: SearchQuery, store: DocumentStore, candidates: readonly Candidate[]): void {
  const r = q.ranking;
  const sessionOfSlot = store.sessionOfSlot;
  const sessionLexical = q.sessionLexical;
  const sessionBest = new Map<number, number>();
  for (const c of candidates) {
    const session = sessionOfSlot[c.slot];
    if (session >= 0) sessionBest.set(session, Math.max(sessionBest.get(session) ?? 0, c.document));
  }
  let maxSessionLexical = 0;
  for (const session of q.touchedSessions) {
    if (r.contextPower !== 1 && r.sessionScoring === 'sum') sessionLexical[session] = Math.pow(sessionLexical[session], 1 / r.contextPower);
    if (sessionLexical[session] > maxSessionLexical) maxSessionLexical = sessionLexical[session];
  }
  for (const c of candidates) {
    const session = sessionOfSlot[c.slot];
    if (session < 0 || r.contextWeight === 0) {
      c.context = c.document;
    } else {
      const lex = maxSessionLexical > 0 ? sessionLexical[session] / maxSessionLexical : 0;
      const best = sessionBest.get(session) ?? 0;
      const cd = r.contextDenseWeight;
      c.context = r.mode === 'dense' ? best : r.mode === 'lexical' ? lex : cd * best + (1 - cd) * lex;
    }
    c.combined = (1 - r.contextWeight) * c.document + r.contextWeight * c.context;
  }
  for (const session of q.touchedSessions) sessionLexical[session] = 0;
}
