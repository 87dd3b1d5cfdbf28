// English stop words (a compact list in the spirit of the Lucene/NLTK ones). Question words
// such as "when" and "first" are kept out of it: the time-intent parser reads them.
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are arent as at be because been before being ' +
    'below between both but by can cant could couldnt did didnt do does doesnt doing dont down during each ' +
    'few for from further had hadnt has hasnt have havent having he hed hell hes her here heres hers herself ' +
    'him himself his how hows i id ill im ive if in into is isnt it its itself lets me more most mustnt my ' +
    'myself no nor not of off on once only or other ought our ours ourselves out over own same shant she ' +
    'shed shell shes should shouldnt so some such than that thats the their theirs them themselves then ' +
    'there theres these they theyd theyll theyre theyve this those through to too under until up very was ' +
    'wasnt we wed well were weve werent what whats which while who whos whom why whys with wont would ' +
    'wouldnt you youd youll youre youve your yours yourself yourselves also just really get got like ' +
    'will shall may might must can could would should one ones thing things something anything way ' +
    'know think tell told say said let lot lots much many sure yes yeah ok okay oh hi hello thanks thank please'
  ).split(/\s+/),
);
