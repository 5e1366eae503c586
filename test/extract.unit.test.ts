import { zipSync, strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { isJobError, type JobError } from '../src/errors.js';
import { detectFormat, extractText, normalizeText } from '../src/pipeline/extract/index.js';
import { buildPageText } from '../src/pipeline/extract/pdf.js';
import { extractRtf } from '../src/pipeline/extract/rtf.js';
import { extractHtml } from '../src/pipeline/extract/html.js';
import { parseXml, XmlSyntaxError } from '../src/pipeline/extract/xml.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0));

async function extractionError(bytes: Uint8Array): Promise<JobError> {
  const error: unknown = await extractText(bytes).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isJobError(error)) throw new Error(`expected a JobError, got ${String(error)}`);
  return error;
}

// Minimal OOXML package parts; mammoth finds the main part through _rels/.rels.
const CONTENT_TYPES =
  '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
  '</Types>';
const PACKAGE_RELS =
  '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
  '</Relationships>';
const WORD_NAMESPACES =
  'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ' +
  'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" ' +
  'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" ' +
  'xmlns:v="urn:schemas-microsoft-com:vml"';

function buildDocx(bodyXml: string, extraParts: Record<string, string> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = {
    '[Content_Types].xml': strToU8(CONTENT_TYPES),
    '_rels/.rels': strToU8(PACKAGE_RELS),
    'word/document.xml': strToU8(`<?xml version="1.0"?><w:document ${WORD_NAMESPACES}><w:body>${bodyXml}</w:body></w:document>`),
  };
  for (const [name, xml] of Object.entries(extraParts)) files[name] = strToU8(xml);
  return zipSync(files);
}

function buildOdt(contentBody: string, stylesXml?: string): Uint8Array {
  const namespaces =
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ' +
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"';
  const files: Record<string, Uint8Array | [Uint8Array, { level: 0 }]> = {
    mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }],
    'content.xml': strToU8(
      `<?xml version="1.0"?><office:document-content ${namespaces}><office:body><office:text>${contentBody}</office:text></office:body></office:document-content>`,
    ),
  };
  if (stylesXml !== undefined) {
    files['styles.xml'] = strToU8(
      `<?xml version="1.0"?><office:document-styles ${namespaces}><office:master-styles>${stylesXml}</office:master-styles></office:document-styles>`,
    );
  }
  return zipSync(files);
}

const PNG_HEADER = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
const OLE_HEADER = Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0, 0, 0, 0, 0, 0, 0]);

describe('detectFormat', () => {
  it.each([
    ['PDF header', encode('%PDF-1.7\n1 0 obj\n'), 'pdf'],
    ['PDF after BOM and blank lines', encode('\uFEFF\n\n%PDF-1.4\n'), 'pdf'],
    ['RTF', encode('{\\rtf1\\ansi Hello}'), 'rtf'],
    ['HTML doctype', encode('<!DOCTYPE html><html><body>Hi</body></html>'), 'html'],
    ['HTML after comment and BOM', encode('\uFEFF<!-- saved from url=(0014)about:internet -->\n<html lang="en">'), 'html'],
    ['XHTML with XML declaration', encode('<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'), 'html'],
    ['Word 2003 XML', encode('<?xml version="1.0"?>\n<?mso-application progid="Word.Document"?>\n<w:wordDocument>'), 'wordml'],
    ['Word 2003 XML without the processing instruction', encode('<w:wordDocument xmlns:w="x"><w:body/></w:wordDocument>'), 'wordml'],
    ['UTF-8 text', encode('Jane Smith\nSoftware Engineer — Zürich\n'), 'text'],
    ['UTF-16LE text with BOM', Uint8Array.from([0xff, 0xfe, 0x4a, 0, 0x61, 0, 0x6e, 0, 0x65, 0]), 'text'],
    ['generic XML', encode('<?xml version="1.0"?><resume><name>Jane</name></resume>'), 'text'],
  ])('%s', (_name, bytes, expected) => {
    expect(detectFormat(bytes)).toBe(expected);
  });

  it('decides by bytes, not names', () => {
    // A file called "resume.txt" that contains a PDF is still a PDF, because names are never consulted.
    expect(detectFormat(encode('%PDF-1.5\nplain words that look like text'))).toBe('pdf');
    expect(detectFormat(encode('This resume mentions a PDF but is text.'))).toBe('text');
  });

  it('finds DOCX and ODT inside ZIP archives', () => {
    expect(detectFormat(buildDocx('<w:p><w:r><w:t>x</w:t></w:r></w:p>'))).toBe('docx');
    expect(detectFormat(buildOdt('<text:p>x</text:p>'))).toBe('odt');
  });

  it('reports other ZIP archives as unsupported', () => {
    expect(detectFormat(zipSync({ 'xl/workbook.xml': strToU8('<workbook/>') }))).toBeNull();
  });

  it('keeps a truncated DOCX detectable', () => {
    const docx = buildDocx(`<w:p><w:r><w:t>${'filler '.repeat(2000)}</w:t></w:r></w:p>`);
    expect(detectFormat(docx.subarray(0, docx.length - 40))).toBe('docx');
  });

  it.each([
    ['PNG', PNG_HEADER],
    ['OLE compound file (.doc)', OLE_HEADER],
    ['NUL-filled binary', Uint8Array.from([0x41, 0, 0x42, 0, 0x43, 0, 0x44])],
    ['invalid UTF-8 text', latin1('Caf\xe9 au lait, r\xe9sum\xe9')],
  ])('returns null for %s', (_name, bytes) => {
    expect(detectFormat(bytes)).toBeNull();
  });
});

describe('extractText errors', () => {
  it('rejects zero bytes as file_empty', async () => {
    const error = await extractionError(new Uint8Array(0));
    expect(error.code).toBe('file_empty');
    expect(error.retryable).toBe(false);
  });

  it('rejects whitespace only as file_empty', async () => {
    expect((await extractionError(encode(' \n\t\r\n  '))).code).toBe('file_empty');
  });

  it('rejects markup without text as file_empty', async () => {
    expect((await extractionError(encode('<!doctype html><html><head><title>x</title></head><body> </body></html>'))).code).toBe(
      'file_empty',
    );
  });

  it('rejects a PNG as unsupported_file_type', async () => {
    const error = await extractionError(PNG_HEADER);
    expect(error.code).toBe('unsupported_file_type');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('PNG image');
    for (const type of ['PDF', 'DOCX', 'ODT', 'RTF', 'HTML', 'plain text']) expect(error.message).toContain(type);
  });

  it('rejects a binary .doc as unsupported_file_type', async () => {
    const error = await extractionError(OLE_HEADER);
    expect(error.code).toBe('unsupported_file_type');
    expect(error.message).toContain('.doc');
  });

  it('rejects a PDF header with garbage as file_corrupt', async () => {
    const error = await extractionError(encode('%PDF-1.7\n' + 'garbage \x01\x02 not a pdf\n'.repeat(20)));
    expect(error.code).toBe('file_corrupt');
    expect(error.retryable).toBe(false);
  });

  it('rejects a truncated DOCX as file_corrupt', async () => {
    const docx = buildDocx(`<w:p><w:r><w:t>${'filler '.repeat(2000)}</w:t></w:r></w:p>`);
    const error = await extractionError(docx.subarray(0, Math.floor(docx.length / 2)));
    expect(error.code).toBe('file_corrupt');
  });

  it('rejects any truncated ZIP as file_corrupt', async () => {
    // The entry names are lost with the central directory, so this could have been a DOCX.
    const zip = zipSync({ 'data.bin': new Uint8Array(4096).fill(7) });
    expect((await extractionError(zip.subarray(0, 20))).code).toBe('file_corrupt');
  });

  it('rejects a password-protected ODT', async () => {
    const odt = zipSync({
      mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }],
      'content.xml': new Uint8Array(64).fill(9),
      'META-INF/manifest.xml': strToU8('<manifest:manifest><manifest:encryption-data/></manifest:manifest>'),
    });
    const error = await extractionError(odt);
    expect(error.code).toBe('unsupported_file_type');
    expect(error.message).toContain('password');
  });

  it('rejects a minimal PDF without text as no_text_layer', async () => {
    const error = await extractionError(buildPdf(''));
    expect(error.code).toBe('no_text_layer');
    expect(error.message).toContain('OCR');
  });

  it('rejects invalid maxChars', async () => {
    await expect(extractText(encode('text'), { maxChars: 0 })).rejects.toThrow(RangeError);
  });
});

describe('extractText results', () => {
  it('leaves the input bytes intact', async () => {
    const pdf = buildPdf('BT /F1 12 Tf 72 720 Td (Jane Smith, Software Engineer) Tj ET');
    const copy = pdf.slice();
    const document = await extractText(pdf);
    expect(document.format).toBe('pdf');
    expect(document.pages).toBe(1);
    expect(document.text).toBe('Jane Smith, Software Engineer');
    expect(pdf).toEqual(copy);
  });

  it('leaves a pooled Buffer intact', async () => {
    // Small Buffers share one pooled ArrayBuffer, which pdf.js must not detach.
    const neighbour = Buffer.from('neighbour');
    const pdf = Buffer.from(buildPdf('BT /F1 12 Tf 72 720 Td (Jane Smith, Software Engineer) Tj ET'));
    const copy = Buffer.from(pdf);
    await extractText(pdf);
    expect(pdf.equals(copy)).toBe(true);
    expect(neighbour.toString()).toBe('neighbour');
  });

  it('reads CJK text through predefined CMaps', async () => {
    // STSong-Light is not embedded, so pdf.js needs the UniGB-UCS2-H CMap file to map the codes.
    const pdf = buildPdf(`BT /F1 12 Tf 72 720 Td <${'4E2D65877B805386'.repeat(6)}> Tj ET`, CJK_FONT);
    const { text } = await extractText(pdf);
    expect(text).toBe('中文简历'.repeat(6));
  });

  it('truncates to maxChars with a warning', async () => {
    const document = await extractText(encode('word '.repeat(100)), { maxChars: 50 });
    expect(document.text.length).toBeLessThanOrEqual(50);
    expect(document.warnings).toHaveLength(1);
    expect(document.warnings[0]).toContain('truncated');
  });

  it('returns no warnings for short text', async () => {
    const document = await extractText(encode('Jane Smith\r\nEngineer'));
    expect(document).toEqual({ text: 'Jane Smith\nEngineer', format: 'text', warnings: [] });
  });

  it('reads DOCX body, text box once, and header', async () => {
    const textBox =
      '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>' +
      '<w:p><w:r><w:t>[Boxed]</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice>' +
      '<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>[Boxed]</w:t></w:r></w:p>' +
      '</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>';
    const docx = buildDocx(`<w:p><w:r><w:t>Experience</w:t></w:r></w:p>${textBox}`, {
      'word/header1.xml': `<w:hdr ${WORD_NAMESPACES}><w:p><w:r><w:t>Jane Smith</w:t><w:tab/><w:t>jane@example.com</w:t></w:r></w:p></w:hdr>`,
      'word/footer1.xml': `<w:ftr ${WORD_NAMESPACES}><w:p><w:r><w:t>Page 1</w:t></w:r></w:p></w:ftr>`,
    });
    const { text, format } = await extractText(docx);
    expect(format).toBe('docx');
    expect(text).toBe('Jane Smith jane@example.com\n\nExperience\n\n[Boxed]\n\nPage 1');
  });

  it('reads ODT paragraphs, spacing elements and headers', async () => {
    const odt = buildOdt(
      '<text:h>Jane   Smith</text:h><text:p>A<text:s text:c="3"/>B<text:tab/>C<text:line-break/>D' +
        '<office:annotation><text:p>reviewer note</text:p></office:annotation></text:p>',
      '<style:master-page><style:header><text:p>Header line</text:p></style:header></style:master-page>',
    );
    const { text, format } = await extractText(odt);
    expect(format).toBe('odt');
    expect(text).toBe('Header line\n\nJane Smith\nA B C\nD');
  });

  it('reads Word 2003 XML body only', async () => {
    const xml =
      '<?xml version="1.0"?><?mso-application progid="Word.Document"?>' +
      '<w:wordDocument xmlns:w="http://schemas.microsoft.com/office/word/2003/wordml" xmlns:o="urn:schemas-microsoft-com:office:office">' +
      '<o:DocumentProperties><o:Title>Hidden title</o:Title></o:DocumentProperties><w:body>' +
      '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Name</w:t><w:tab/><w:t>Jane</w:t></w:r></w:p>' +
      '<w:p><w:r><w:pict><w:binData w:name="wordml://1.png">iVBORw0KGgoAAAANSUhEUg==</w:binData></w:pict><w:t>Skills</w:t></w:r></w:p>' +
      '</w:body></w:wordDocument>';
    const { text, format } = await extractText(encode(xml));
    expect(format).toBe('wordml');
    expect(text).toBe('Name Jane\nSkills');
  });
});

describe('normalizeText', () => {
  it.each([
    ['joins a soft-hyphenated word at a line end', 'submis\u00AD\nsions', 'submissions'],
    ['removes a soft hyphen inside a line', 'co\u00ADoperate', 'cooperate'],
    ['merges a soft hyphen with a hyphen', '555-\u00AD\u20105555', '555-5555'],
    ['expands ligatures', '\uFB01rst \uFB02ow o\uFB03ce', 'first flow office'],
    ['turns NBSP and other spaces into one space', 'a\u00A0\u00A0b\u2009c\u3000d', 'a b c d'],
    ['converts CRLF and CR', 'a\r\nb\rc', 'a\nb\nc'],
    ['drops private-use glyphs', '\uF095 +1 555 \uF0E0 mail@example.com', '+1 555 mail@example.com'],
    ['maps U+2010 and U+2011 to hyphen-minus', 'on\u2010campus non\u2011breaking', 'on-campus non-breaking'],
    ['drops control and zero-width characters', 'a\u0000b\u0007c\u200Bd\uFEFFe', 'abcde'],
    ['collapses spaces and tabs and trims lines', '  a \t b  \n\t c  ', 'a b\nc'],
    ['collapses blank lines', 'a\n\n\n\n\nb\n \n \nc', 'a\n\nb\n\nc'],
    ['turns form feeds into line breaks', 'page one\fpage two', 'page one\npage two'],
    ['leaves glued words alone', 'Jane SmithSoftware Engineer', 'Jane SmithSoftware Engineer'],
    ['composes combining accents', 'Re\u0301sume\u0301', 'Résumé'],
  ])('%s', (_name, input, expected) => {
    expect(normalizeText(input)).toBe(expected);
  });

  it('is idempotent', () => {
    const once = normalizeText(' \uFB01le\u00AD\nname\u00A0 \r\n\r\n\r\n\uE000x ');
    expect(normalizeText(once)).toBe(once);
  });
});

describe('extractRtf', () => {
  const rtf = (body: string): string => normalizeText(extractRtf(latin1(body)));

  it('skips font, color and style tables', () => {
    expect(rtf('{\\rtf1\\ansi{\\fonttbl{\\f0 Helvetica;}}{\\colortbl;\\red255;}{\\stylesheet{\\s1 Heading;}}Hello\\par}')).toBe(
      'Hello',
    );
  });

  it('decodes Unicode escapes and skips their fallback', () => {
    expect(rtf("{\\rtf1 don\\u8217?t \\uc2\\u8212\\'97\\'97 end}")).toBe('don’t — end');
  });

  it('reads negative Unicode escapes as unsigned 16-bit values', () => {
    // 0x10000 - 3913 = U+F0B7, a Symbol-font bullet in the private use area.
    expect(extractRtf(latin1('{\\rtf1 \\u-3913?}'))).toBe('\uF0B7');
  });

  it("decodes \\'hh as windows-1252 by default", () => {
    expect(rtf("{\\rtf1\\ansi R\\'e9sum\\'e9 \\'93quoted\\'94}")).toBe('Résumé “quoted”');
  });

  it('decodes bytes in the code page of the font', () => {
    const body = "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0\\fcharset0 Arial;}{\\f1\\fcharset204 Arial Cyr;}}{\\f1 \\'c8\\'e2\\'e0\\'ed}}";
    expect(rtf(body)).toBe('Иван');
  });

  it('decodes double-byte code pages across escapes', () => {
    expect(rtf("{\\rtf1\\ansi\\ansicpg932 \\'93\\'fa\\'96\\'7b}")).toBe('日本');
  });

  it('shows field results but not field instructions', () => {
    const body = '{\\rtf1 see {\\field{\\*\\fldinst{HYPERLINK "http://example.com"}}{\\fldrslt{\\ul my site}}} now}';
    expect(rtf(body)).toBe('see my site now');
  });

  it('skips pictures, binary data and unknown starred destinations', () => {
    const body = '{\\rtf1 a{\\pict\\pngblip 89504e47}b{\\*\\unknown secret}c\\bin3 {}xd}';
    expect(rtf(body)).toBe('abcd');
  });

  it('turns paragraph, line and tab controls into whitespace', () => {
    expect(extractRtf(latin1('{\\rtf1 a\\par b\\line c\\tab d\\cell e}'))).toBe('a\nb\nc\td\te');
  });

  it('drops hidden text', () => {
    expect(rtf('{\\rtf1 shown {\\v hidden} again}')).toBe('shown again');
  });

  it('tolerates unbalanced and truncated input', () => {
    expect(rtf('}{\\rtf1 {\\b bold} tail}}}')).toBe('bold tail');
    expect(rtf("{\\rtf1 cut \\'9")).toBe('cut');
    expect(rtf('{\\rtf1 end\\')).toBe('end');
  });
});

describe('extractHtml', () => {
  it('drops head, scripts and styles', () => {
    const html =
      '<html><head><title>T</title><style>p{color:red}</style></head><body><script>var x = "<p>";</script><p>Hi</p></body></html>';
    expect(normalizeText(extractHtml(html))).toBe('Hi');
  });

  it('ends the head at <body> when </head> is missing', () => {
    expect(normalizeText(extractHtml('<html><head><title>Title</title><body>Body'))).toBe('Body');
  });

  it('keeps text when the head is never closed', () => {
    expect(normalizeText(extractHtml('<html><head><title>Title</title><p>Body'))).toBe('Body');
  });

  it('decodes named and numeric entities', () => {
    const html = '<p>&amp; &lt; &gt; &quot; &#39; &nbsp;&trade; &rsquo;&ldquo;&rdquo; &mdash;&ndash;&hellip; &#233;&#xE9; &#146; &eacute;&Omega;&omega;&sigmaf;&yuml;&unknown;</p>';
    expect(extractHtml(html)).toBe('& < > " \' \u00A0™ ’“” —–… éé ’ éΩωςÿ&unknown;\n');
  });

  it('breaks lines at block elements and keeps inline text together', () => {
    const html = '<h1>Jane</h1><div>Software <b>Eng</b>ineer</div><ul><li>One</li><li>Two<br>Three</li></ul>';
    expect(normalizeText(extractHtml(html))).toBe('Jane\nSoftware Engineer\nOne\nTwo\nThree');
  });

  it('collapses source whitespace except in pre', () => {
    expect(normalizeText(extractHtml('<p>a\n   b</p><pre>x\n  y</pre>'))).toBe('a b\nx\ny');
  });

  it('separates table cells', () => {
    expect(normalizeText(extractHtml('<table><tr><td>Name</td><td>Jane</td></tr><tr><td>City</td><td>Oslo</td></tr></table>'))).toBe(
      'Name Jane\nCity Oslo',
    );
  });
});

describe('buildPageText', () => {
  type Content = Parameters<typeof buildPageText>[0];
  const run = (str: string, x: number, y: number, width: number, hasEOL = false, size = 10) => ({
    str,
    dir: 'ltr',
    transform: [size, 0, 0, size, x, y],
    width,
    height: size,
    fontName: 'F1',
    hasEOL,
  });
  const page = (...items: ReturnType<typeof run>[]): string => buildPageText({ items, styles: {} } as unknown as Content);

  it('starts a new line when the baseline moves', () => {
    expect(page(run('Jane Smith', 72, 700, 50), run('Software Engineer', 72, 686, 80))).toBe('Jane Smith\nSoftware Engineer');
  });

  it('starts a new line at hasEOL', () => {
    expect(page(run('Jane', 72, 700, 20, true), run('Smith', 100, 700, 25))).toBe('Jane\nSmith');
  });

  it('adds a space across a visible gap on one line', () => {
    expect(page(run('Anställningstid', 63, 526, 51), run('Fr o m', 165, 526, 30))).toBe('Anställningstid Fr o m');
  });

  it('keeps adjacent runs of one word together', () => {
    expect(page(run('Engi', 72, 700, 20), run('neer', 92.3, 700, 20))).toBe('Engineer');
  });

  it('starts a new line when a run jumps back behind the previous one', () => {
    expect(page(run('Fortfarande anställd', 423, 526, 71), run('Anställningstid', 63, 526, 51))).toBe(
      'Fortfarande anställd\nAnställningstid',
    );
  });

  it('drops glyphs overprinted for fake bold', () => {
    expect(page(run('学', 146.1, 523, 10.9), run('学', 146.3, 523, 10.9), run('学', 146.5, 523, 10.9), run('位', 157.4, 523, 10.9))).toBe(
      '学位',
    );
  });

  it('keeps repeated characters that advance', () => {
    expect(page(run('.', 72, 700, 3), run('.', 75, 700, 3), run('.', 78, 700, 3))).toBe('...');
  });
});

describe('parseXml', () => {
  it('parses elements, attributes, entities and CDATA', () => {
    const root = parseXml('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a k="1 &amp; 2"><b>x &lt; y</b><![CDATA[<raw>]]><c/></a>');
    expect(root.children).toEqual([
      { name: 'a', attributes: { k: '1 & 2' }, children: [{ name: 'b', attributes: {}, children: ['x < y'] }, '<raw>', { name: 'c', attributes: {}, children: [] }] },
    ]);
  });

  it.each([
    ['mismatched end tag', '<a><b></a>'],
    ['unclosed element', '<a><b></b>'],
    ['unterminated comment', '<a><!-- x</a>'],
  ])('rejects %s', (_name, xml) => {
    expect(() => parseXml(xml)).toThrow(XmlSyntaxError);
  });

  it('rejects excessive nesting', () => {
    expect(() => parseXml('<a>'.repeat(1000) + '</a>'.repeat(1000))).toThrow(XmlSyntaxError);
  });
});

const HELVETICA_FONT = ['<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'];

/** A Type 0 font with the non-embedded Adobe-GB1 font STSong-Light and a predefined CMap. */
const CJK_FONT = [
  '<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>',
  '<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light ' +
    '/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R >>',
  '<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -120 1000 880] /ItalicAngle 0 ' +
    '/Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>',
];

/**
 * Builds a one-page PDF whose font F1 is object 5, made of `fontObjects` (numbered from 5),
 * with the given content stream and a correct xref table.
 */
function buildPdf(contentStream: string, fontObjects: string[] = HELVETICA_FONT): Uint8Array {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${contentStream.length} >>\nstream\n${contentStream}\nendstream`,
    ...fontObjects,
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xrefOffset = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return latin1(pdf);
}
