import { fileCorruptError, fileEmptyError, fileTooComplexError } from './failures.js';
import { findElement, parseXml, XmlDepthError, type XmlElement } from './xml.js';

/**
 * Elements whose subtree contains no document text: property blocks (`w:pPr` also contains
 * tab stops named `w:tab`), embedded binaries, comments, and the VML copy that DOCX keeps in
 * `mc:Fallback` next to the DrawingML text box in `mc:Choice`.
 */
const SKIPPED_ELEMENTS = new Set([
  'w:pPr', 'w:rPr', 'w:tblPr', 'w:trPr', 'w:tcPr', 'w:tblGrid',
  'w:binData', 'w:instrText', 'w:delText', 'w:fldData', 'mc:Fallback', 'o:DocumentProperties',
  'o:CustomDocumentProperties', 'w:docPr', 'w:fonts', 'w:styles', 'w:lists', 'w:comment', 'w:comments',
]);

/**
 * Collects the text of WordprocessingML content, the vocabulary shared by Word 2003 XML
 * and the parts of a DOCX. Only character data of `w:t` is emitted, so drawing offsets,
 * field instructions and the text of other elements do not appear. Paragraphs end with a line break,
 * `w:tab` inside a run becomes a tab, and `w:br`/`w:cr` become line breaks.
 */
export function collectWordprocessingText(root: XmlElement): string {
  const output: string[] = [];

  const visit = (element: XmlElement, parentName: string): void => {
    if (SKIPPED_ELEMENTS.has(element.name)) return;
    if (element.name === 'aml:annotation' && element.attributes['w:type'] === 'Word.Comment') return;

    switch (element.name) {
      case 'w:t':
        // Some generators, HackMyResume among them, put <w:br/> inside <w:t>.
        for (const child of element.children) {
          if (typeof child === 'string') output.push(child);
          else visit(child, element.name);
        }
        return;
      case 'w:tab':
        if (parentName === 'w:r') output.push('\t');
        return;
      case 'w:br':
      case 'w:cr':
        output.push('\n');
        return;
      case 'w:noBreakHyphen':
        output.push('-');
        return;
      case 'w:sym': {
        // Symbol-font characters are usually private-use code points, which normalization drops.
        const code = Number.parseInt(element.attributes['w:char'] ?? '', 16);
        if (Number.isInteger(code) && code > 0 && code <= 0xffff) output.push(String.fromCharCode(code));
        return;
      }
    }

    for (const child of element.children) if (typeof child !== 'string') visit(child, element.name);
    if (element.name === 'w:p') output.push('\n');
    else if (element.name === 'w:tc') output.push('\t');
  };

  visit(root, '');
  return output.join('');
}

/**
 * Extracts the text of a Word 2003 XML document (WordprocessingML 2003) from the `w:body`
 * element, which leaves out document properties, fonts, styles and list definitions.
 * Headers and footers are included where they sit, inside the section properties.
 */
export function extractWordml(xml: string): string {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof XmlDepthError) throw fileTooComplexError(`The Word XML document nests elements too deeply: ${error.message}.`, error);
    throw fileCorruptError('a Word 2003 XML document', error);
  }

  const body = findElement(root, 'w:body');
  if (body === undefined) throw fileEmptyError('The Word XML document has no body.');
  return collectWordprocessingText(body);
}
