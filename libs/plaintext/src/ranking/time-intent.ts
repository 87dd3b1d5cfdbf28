// Reads what a query says about time: whether it asks for the most recent or the earliest
// state of things, and whether it points at a period relative to the reference time
// ("three weeks ago", "last Saturday", "yesterday", "in March"). Plain English patterns;
// a query without any of them gets no time adjustment at all. "This weekend" and the like
// are left out on purpose: they usually talk about plans, not about what was said then.

export type TimeDirection = 'recent' | 'earliest';

export interface TimeIntent {
  readonly direction?: TimeDirection;
  /** Period the query points at, epoch ms, inclusive start, exclusive end. */
  readonly window?: { readonly start: number; readonly end: number };
  /** The query asks about time itself ("when", "how long ago", "how many days"). */
  readonly asksWhen: boolean;
}

const DAY = 86_400_000;
const RECENT = /\b(latest|most recent|recent(ly)?|current(ly)?|now|newest|nowadays|these days|anymore|last time|updated?|still)\b/;
const EARLIEST = /\b(first|earliest|initial(ly)?|original(ly)?|oldest|at first|to begin with)\b/;
const ASKS_WHEN = /\b(when|how long|how many (days|weeks|months|years)|what (date|day|time|month|year)|ago|since|before|after)\b/;
const NUMBER_WORDS: Record<string, number> = {
  a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, couple: 2, few: 3, several: 4,
};
const UNIT_DAYS: Record<string, number> = { day: 1, week: 7, month: 30.4, year: 365 };
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = [
  'january', 'february', 'march', 'april', 'may', 'june',
  'july', 'august', 'september', 'october', 'november', 'december',
];

export function parseTimeIntent(query: string, referenceTime?: number): TimeIntent {
  const q = query.toLowerCase().replace(/[’']/g, "'");
  const window = referenceTime === undefined ? undefined : relativeWindow(q, referenceTime);
  let direction: TimeDirection | undefined;
  if (EARLIEST.test(q)) direction = 'earliest';
  else if (RECENT.test(q)) direction = 'recent';
  return { direction, window, asksWhen: ASKS_WHEN.test(q) };
}

function relativeWindow(q: string, ref: number): { start: number; end: number } | undefined {
  const ago = q.match(/\b(\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple|few|several)(?: of)? (day|week|month|year)s? ago\b/);
  if (ago) {
    const n = /^\d+$/.test(ago[1]) ? Number(ago[1]) : NUMBER_WORDS[ago[1]];
    const days = n * UNIT_DAYS[ago[2]];
    const slack = Math.max(1, days * 0.25, UNIT_DAYS[ago[2]] / 2);
    const centre = ref - days * DAY;
    return { start: centre - slack * DAY, end: centre + slack * DAY };
  }
  if (/\byesterday\b/.test(q)) return { start: ref - 2 * DAY, end: ref };
  if (/\b(last|past) (week|weekend)\b/.test(q)) return { start: ref - 14 * DAY, end: ref };
  if (/\b(last|past) month\b/.test(q)) return { start: ref - 62 * DAY, end: ref };
  if (/\b(last|past) year\b/.test(q)) return { start: ref - 730 * DAY, end: ref };
  const weekday = q.match(/\blast (sunday|monday|tuesday|wednesday|thursday|friday|saturday)\b/);
  if (weekday) {
    const target = WEEKDAYS.indexOf(weekday[1]);
    const today = new Date(ref).getUTCDay();
    const back = ((today - target + 7) % 7) || 7;
    const day = ref - back * DAY;
    return { start: day - 2 * DAY, end: day + 2 * DAY };
  }
  const month = q.match(/\b(?:in|during|of|since) (january|february|march|april|may|june|july|august|september|october|november|december)\b/);
  if (month) {
    const m = MONTHS.indexOf(month[1]);
    const refDate = new Date(ref);
    let year = refDate.getUTCFullYear();
    if (m > refDate.getUTCMonth()) year -= 1;
    return { start: Date.UTC(year, m, 1) - 3 * DAY, end: Date.UTC(year, m + 1, 1) + 3 * DAY };
  }
  return undefined;
}
