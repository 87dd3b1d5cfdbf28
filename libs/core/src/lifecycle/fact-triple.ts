/** A structured fact as a memory carries it. */
export interface FactTriple {
  subject: string;
  predicate: string;
  object: string;
}

/** Case and whitespace folded, so "Alice " and "alice" name the same subject. */
export function normaliseFactPart(value: string): string {
  return value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The key under which facts supersede each other: same subject and predicate. */
export function factKey(fact: Pick<FactTriple, 'subject' | 'predicate'>): string {
  return `${normaliseFactPart(fact.subject)}\u0001${normaliseFactPart(fact.predicate)}`;
}
