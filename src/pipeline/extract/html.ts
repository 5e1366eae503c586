import { decodeHtmlEntities } from './html-entities.js';

/**
 * Elements whose content is not document text: code, styles, fallbacks for disabled
 * scripts or frames, and inline SVG, whose titles would otherwise leak as words.
 */
const SKIPPED_ELEMENTS = ['script', 'style', 'template', 'noscript', 'iframe', 'svg'];

/** Elements that start a new line, as browsers lay them out by default. */
const BLOCK_ELEMENTS = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'caption', 'dd', 'details', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'legend', 'li',
  'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'tfoot', 'thead', 'tr', 'ul',
]);

/** A start or end tag. Quoted attribute values may contain ">". */
const TAG_PATTERN = /<(\/?)([A-Za-z][A-Za-z0-9:-]*)(?:[^>"']|"[^"]*"|'[^']*')*>/g;

/**
 * Extracts the visible text of an HTML document. Content of `<head>`, scripts, styles and
 * inline SVG is dropped, block elements and `<br>` become line breaks, table
 * cells are separated by tabs, and whitespace collapses as in a browser except inside `<pre>`.
 */
export function extractHtml(html: string): string {
  let source = html.replace(/<!--[\s\S]*?(?:-->|$)/g, '');
  for (const name of SKIPPED_ELEMENTS) {
    source = source.replace(new RegExp(`<${name}\\b[\\s\\S]*?(?:</${name}\\s*>|$)`, 'gi'), ' ');
  }
  // The </head> end tag is optional, so <body> also ends the head.
  source = source.replace(/<head\b[\s\S]*?(?:<\/head\s*>|(?=<body\b))/i, ' ');
  source = source.replace(/<title\b[\s\S]*?<\/title\s*>/gi, ' ');
  source = source.replace(/<![^>]*>|<\?[^>]*>/g, '');

  const output: string[] = [];
  let atLineStart = true;
  let preDepth = 0;
  let position = 0;
  const pushText = (raw: string): void => {
    const text = decodeText(raw, preDepth > 0);
    output.push(text);
    if (text.trim() !== '') atLineStart = false;
  };

  for (const tag of source.matchAll(TAG_PATTERN)) {
    pushText(source.slice(position, tag.index));
    position = tag.index + tag[0].length;

    const isEndTag = tag[1] === '/';
    const name = tag[2]!.toLowerCase();
    if (name === 'pre') preDepth = Math.max(0, preDepth + (isEndTag ? -1 : 1));
    // Nested blocks such as </li></ul></div> make one line break, but every <br> counts.
    if (name === 'br' || (BLOCK_ELEMENTS.has(name) && !atLineStart)) {
      output.push('\n');
      atLineStart = true;
    } else if ((name === 'td' || name === 'th') && !isEndTag) {
      output.push('\t');
    }
  }
  pushText(source.slice(position));
  return output.join('');
}

function decodeText(text: string, preformatted: boolean): string {
  // Collapse source whitespace before decoding so that &nbsp; and &#10; survive.
  return decodeHtmlEntities(preformatted ? text : text.replace(/[ \t\n\r\f]+/g, ' '));
}
