/**
 * A small XML parser for the machine-written XML inside DOCX, ODT and Word 2003 files.
 *
 * It keeps qualified names as written (`w:p`, `text:span`) instead of resolving namespaces,
 * because Word, LibreOffice and the other common producers use the standard prefixes.
 * It resolves only the five predefined entities and character references. DTDs are
 * skipped, so entities declared in one are left as written.
 *
 * NOTE: an ODT, a Word 2003 XML file or a DOCX header that binds these namespaces to other
 * prefixes yields no text.
 */

/** An element with its qualified name, attributes and children in document order. */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
}

/** A child of an element: another element or a run of character data. */
export type XmlNode = XmlElement | string;

/** Raised for markup that is not well-formed, such as a truncated or mismatched tag. */
export class XmlSyntaxError extends Error {
  override readonly name: string = 'XmlSyntaxError';
}

/** Raised when elements nest deeper than `MAX_XML_DEPTH`. */
export class XmlDepthError extends XmlSyntaxError {
  override readonly name = 'XmlDepthError';
}

/**
 * Maximum element nesting. Real documents stay far below it (an estimate: Word nests
 * tables and text boxes a few dozen levels deep), and the limit keeps the recursive
 * walkers in this folder and in mammoth from overflowing the stack on hostile input.
 */
export const MAX_XML_DEPTH = 512;

const DEPTH_SCAN_PATTERN = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[?!][^>]*>|<(\/?)[^\s/>]+(?:"[^"]*"|'[^']*'|[^'">])*?(\/?)>/g;

/**
 * Throws `XmlDepthError` when elements in `xml` nest deeper than `MAX_XML_DEPTH`. It scans
 * tags without building a tree, so it is cheap to run before handing XML to another parser.
 */
export function assertXmlDepth(xml: string): void {
  let depth = 0;
  DEPTH_SCAN_PATTERN.lastIndex = 0;
  for (let match = DEPTH_SCAN_PATTERN.exec(xml); match !== null; match = DEPTH_SCAN_PATTERN.exec(xml)) {
    const [tag, closing, selfClosing] = match;
    if (tag.startsWith('<!') || tag.startsWith('<?')) continue;
    if (closing === '/') depth--;
    else if (selfClosing !== '/') depth++;
    if (depth > MAX_XML_DEPTH) throw new XmlDepthError(`Elements nested deeper than ${MAX_XML_DEPTH} levels`);
  }
}

const NAME_PATTERN = /[^\s/>]+/y;
const ATTRIBUTE_PATTERN = /\s*([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;
const TAG_END_PATTERN = /\s*(\/?)>/y;
const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Converts a numeric character reference to a string, with U+FFFD for values that are not characters. */
export function codePointToString(codePoint: number): string {
  const invalid =
    !Number.isFinite(codePoint) || codePoint <= 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff);
  return invalid ? '\uFFFD' : String.fromCodePoint(codePoint);
}

/** Resolves the predefined XML entities and numeric character references. */
export function decodeXmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (reference, body: string) => {
    if (body.startsWith('#x')) return codePointToString(Number.parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return codePointToString(Number.parseInt(body.slice(1), 10));
    return PREDEFINED_ENTITIES[body] ?? reference;
  });
}

/**
 * Parses an XML document into a tree under a synthetic root named `#document`.
 * Throws `XmlSyntaxError` when tags are unterminated, mismatched or nested too deeply.
 */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', attributes: {}, children: [] };
  const stack: XmlElement[] = [root];
  let position = 0;

  const appendText = (text: string): void => {
    const parent = stack[stack.length - 1]!;
    const last = parent.children[parent.children.length - 1];
    if (typeof last === 'string') parent.children[parent.children.length - 1] = last + text;
    else parent.children.push(text);
  };

  const indexAfter = (marker: string, from: number, construct: string): number => {
    const index = xml.indexOf(marker, from);
    if (index === -1) throw new XmlSyntaxError(`Unterminated ${construct} at offset ${from}`);
    return index + marker.length;
  };

  while (position < xml.length) {
    const open = xml.indexOf('<', position);
    if (open === -1) {
      appendText(decodeXmlEntities(xml.slice(position)));
      break;
    }
    if (open > position) appendText(decodeXmlEntities(xml.slice(position, open)));

    if (xml.startsWith('<!--', open)) {
      position = indexAfter('-->', open + 4, 'comment');
    } else if (xml.startsWith('<![CDATA[', open)) {
      const end = indexAfter(']]>', open + 9, 'CDATA section');
      appendText(xml.slice(open + 9, end - 3));
      position = end;
    } else if (xml.startsWith('<?', open)) {
      position = indexAfter('?>', open + 2, 'processing instruction');
    } else if (xml.startsWith('<!', open)) {
      position = skipDeclaration(xml, open);
    } else if (xml[open + 1] === '/') {
      const end = indexAfter('>', open, 'end tag');
      const name = xml.slice(open + 2, end - 1).trim();
      const element = stack.pop();
      if (element === undefined || element === root || element.name !== name) {
        throw new XmlSyntaxError(`Unexpected end tag </${name}> at offset ${open}`);
      }
      position = end;
    } else {
      position = parseStartTag(xml, open, stack);
      if (stack.length > MAX_XML_DEPTH) throw new XmlDepthError(`Elements nested deeper than ${MAX_XML_DEPTH} levels`);
    }
  }

  if (stack.length > 1) throw new XmlSyntaxError(`Unclosed element <${stack[stack.length - 1]!.name}>`);
  return root;
}

/** Parses `<name attr="value" ...>` at `open`, attaches the element, and returns the offset after it. */
function parseStartTag(xml: string, open: number, stack: XmlElement[]): number {
  NAME_PATTERN.lastIndex = open + 1;
  const nameMatch = NAME_PATTERN.exec(xml);
  if (nameMatch === null) throw new XmlSyntaxError(`Invalid start tag at offset ${open}`);

  const element: XmlElement = { name: nameMatch[0], attributes: {}, children: [] };
  let position = NAME_PATTERN.lastIndex;
  for (;;) {
    ATTRIBUTE_PATTERN.lastIndex = position;
    const attribute = ATTRIBUTE_PATTERN.exec(xml);
    if (attribute === null) break;
    element.attributes[attribute[1]!] = decodeXmlEntities(attribute[2] ?? attribute[3] ?? '');
    position = ATTRIBUTE_PATTERN.lastIndex;
  }

  TAG_END_PATTERN.lastIndex = position;
  const end = TAG_END_PATTERN.exec(xml);
  if (end === null) throw new XmlSyntaxError(`Invalid start tag <${element.name}> at offset ${open}`);

  stack[stack.length - 1]!.children.push(element);
  if (end[1] !== '/') stack.push(element);
  return TAG_END_PATTERN.lastIndex;
}

/** Skips `<!DOCTYPE ...>` including an internal subset in square brackets. */
function skipDeclaration(xml: string, open: number): number {
  let bracketDepth = 0;
  for (let index = open + 2; index < xml.length; index++) {
    const char = xml[index];
    if (char === '[') bracketDepth++;
    else if (char === ']') bracketDepth--;
    else if (char === '>' && bracketDepth <= 0) return index + 1;
  }
  throw new XmlSyntaxError(`Unterminated declaration at offset ${open}`);
}

/** Returns the child elements of `element` with the given qualified name. */
export function childElements(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child): child is XmlElement => typeof child !== 'string' && child.name === name);
}

/** Finds the first element with the given qualified name, searching depth-first from `element`. */
export function findElement(element: XmlElement, name: string): XmlElement | undefined {
  for (const child of element.children) {
    if (typeof child === 'string') continue;
    if (child.name === name) return child;
    const found = findElement(child, name);
    if (found !== undefined) return found;
  }
  return undefined;
}
