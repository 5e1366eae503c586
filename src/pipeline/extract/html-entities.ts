import { WINDOWS_1252_HIGH } from './codepages.js';
import { codePointToString } from './xml.js';

/**
 * Named character references: the HTML 4 set (Latin-1, symbols, Greek, typography),
 * which covers what resume builders and word processors write. Rarer HTML5 names are
 * left as written.
 */
const NAMED_ENTITIES = new Map<string, string>();

// HTML 4 names for U+00A0..U+00FF, in code point order.
const LATIN1_NAMES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 ' +
  'acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml ' +
  'Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde ' +
  'Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ' +
  'ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide ' +
  'oslash ugrave uacute ucirc uuml yacute thorn yuml';
LATIN1_NAMES.split(' ').forEach((name, index) => NAMED_ENTITIES.set(name, String.fromCharCode(0xa0 + index)));

// HTML 4 names for U+0391..U+03C9, in code point order. A "-" marks a code point without a name.
const GREEK_NAMES =
  'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho - Sigma Tau Upsilon ' +
  'Phi Chi Psi Omega - - - - - - - alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi ' +
  'omicron pi rho sigmaf sigma tau upsilon phi chi psi omega';
GREEK_NAMES.split(' ').forEach((name, index) => {
  if (name !== '-') NAMED_ENTITIES.set(name, String.fromCharCode(0x391 + index));
});

const OTHER_ENTITIES: Record<string, number> = {
  quot: 0x22, amp: 0x26, apos: 0x27, lt: 0x3c, gt: 0x3e,
  OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161, Yuml: 0x178, fnof: 0x192, circ: 0x2c6, tilde: 0x2dc,
  thetasym: 0x3d1, upsih: 0x3d2, piv: 0x3d6,
  ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c, zwj: 0x200d, lrm: 0x200e, rlm: 0x200f,
  ndash: 0x2013, mdash: 0x2014, lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a, ldquo: 0x201c, rdquo: 0x201d,
  bdquo: 0x201e, dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, hellip: 0x2026, permil: 0x2030, prime: 0x2032,
  Prime: 0x2033, lsaquo: 0x2039, rsaquo: 0x203a, oline: 0x203e, frasl: 0x2044, euro: 0x20ac,
  image: 0x2111, weierp: 0x2118, real: 0x211c, trade: 0x2122, alefsym: 0x2135,
  larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194, crarr: 0x21b5,
  lArr: 0x21d0, uArr: 0x21d1, rArr: 0x21d2, dArr: 0x21d3, hArr: 0x21d4,
  forall: 0x2200, part: 0x2202, exist: 0x2203, empty: 0x2205, nabla: 0x2207, isin: 0x2208, notin: 0x2209,
  ni: 0x220b, prod: 0x220f, sum: 0x2211, minus: 0x2212, lowast: 0x2217, radic: 0x221a, prop: 0x221d,
  infin: 0x221e, ang: 0x2220, and: 0x2227, or: 0x2228, cap: 0x2229, cup: 0x222a, int: 0x222b, there4: 0x2234,
  sim: 0x223c, cong: 0x2245, asymp: 0x2248, ne: 0x2260, equiv: 0x2261, le: 0x2264, ge: 0x2265, sub: 0x2282,
  sup: 0x2283, nsub: 0x2284, sube: 0x2286, supe: 0x2287, oplus: 0x2295, otimes: 0x2297, perp: 0x22a5,
  sdot: 0x22c5, lceil: 0x2308, rceil: 0x2309, lfloor: 0x230a, rfloor: 0x230b, lang: 0x2329, rang: 0x232a,
  loz: 0x25ca, spades: 0x2660, clubs: 0x2663, hearts: 0x2665, diams: 0x2666,
  // Common HTML5 additions.
  nbhy: 0x2011, hyphen: 0x2010, dash: 0x2010, star: 0x2606, starf: 0x2605, check: 0x2713, cross: 0x2717,
  phone: 0x260e, female: 0x2640, male: 0x2642, sharp: 0x266f, flat: 0x266d, commat: 0x40, num: 0x23,
  dollar: 0x24, percnt: 0x25, lpar: 0x28, rpar: 0x29, ast: 0x2a, plus: 0x2b, comma: 0x2c, period: 0x2e,
  sol: 0x2f, colon: 0x3a, semi: 0x3b, equals: 0x3d, quest: 0x3f, lsqb: 0x5b, rsqb: 0x5d, lowbar: 0x5f,
  lcub: 0x7b, rcub: 0x7d, verbar: 0x7c, vert: 0x7c, excl: 0x21, Tab: 0x09, NewLine: 0x0a,
};
for (const [name, codePoint] of Object.entries(OTHER_ENTITIES)) NAMED_ENTITIES.set(name, String.fromCharCode(codePoint));

/** Names that HTML still resolves without the trailing semicolon, as in "&amp" or "&nbsp". */
const LEGACY_NAMES = 'amp|lt|gt|quot|nbsp|copy|reg';
const REFERENCE_PATTERN = new RegExp(
  `&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([A-Za-z][A-Za-z0-9]*);|(${LEGACY_NAMES})(?![A-Za-z0-9=]))`,
  'g',
);

/** Resolves named and numeric character references in HTML text; unknown names stay as written. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE_PATTERN, (reference, hex?: string, decimal?: string, name?: string, legacy?: string) => {
    if (hex !== undefined || decimal !== undefined) {
      const codePoint = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(decimal!, 10);
      // HTML reads references to C1 controls as windows-1252, because old pages wrote "&#146;" for "’".
      if (codePoint >= 0x80 && codePoint <= 0x9f) return WINDOWS_1252_HIGH[codePoint - 0x80]!;
      return codePointToString(codePoint);
    }
    return NAMED_ENTITIES.get(name ?? legacy ?? '') ?? reference;
  });
}
