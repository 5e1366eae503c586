import { decoderForLabel, type ByteDecoder } from './codepages.js';

/**
 * A small RTF-to-text converter covering what word processors and pandoc write: groups,
 * destinations, paragraph and tab controls, Unicode escapes and code-page bytes.
 */

/** Formatting state that RTF scopes to a group (`{ ... }`). */
interface GroupState {
  /** True inside a destination whose text is not document text, such as `\fonttbl` or `\fldinst`. */
  skip: boolean;
  /** True inside `\fonttbl`, where `\f` and `\fcharset` define fonts instead of selecting them. */
  inFontTable: boolean;
  /** Hidden text (`\v`), which readers do not display. */
  hidden: boolean;
  /** Number of fallback characters that follow each `\uN` escape (`\ucN`, default 1). */
  unicodeFallbackLength: number;
  /** Font selected with `\fN`, or the font being defined inside `\fonttbl`. */
  font: number | undefined;
}

/**
 * Destinations whose content is not shown: tables and metadata, pictures and objects,
 * field instructions such as HYPERLINK (the visible text sits in `\fldrslt`), comments,
 * and index or table-of-contents entries. Any `{\* ...}` destination is skipped as well.
 */
const SKIPPED_DESTINATIONS = new Set([
  'fonttbl', 'colortbl', 'stylesheet', 'info', 'pict', 'fldinst', 'objdata', 'objclass', 'objname', 'themedata',
  'colorschememapping', 'datastore', 'latentstyles', 'listtable', 'listoverridetable', 'revtbl', 'rsidtbl',
  'generator', 'xmlnstbl', 'filetbl', 'pgdsctbl', 'userprops', 'docvar', 'template', 'nonshppict', 'shpinst',
  'annotation', 'atnid', 'atnauthor', 'atndate', 'atnref', 'ftnsep', 'ftnsepc', 'aftnsep', 'aftnsepc',
  'bkmkstart', 'bkmkend', 'xe', 'tc', 'sn', 'sv', 'falt', 'panose', 'leveltext', 'levelnumbers',
]);

const CONTROL_WORD_TEXT: Record<string, string> = {
  par: '\n', line: '\n', sect: '\n', page: '\n', row: '\n', tab: '\t', cell: '\t', nestcell: '\t',
  emdash: '\u2014', endash: '\u2013', bullet: '\u2022', lquote: '\u2018', rquote: '\u2019',
  ldblquote: '\u201C', rdblquote: '\u201D', emspace: '\u2003', enspace: '\u2002', qmspace: '\u2005',
  zwj: '\u200D', zwnj: '\u200C',
};

/** Text of control symbols: escaped braces, non-breaking space and hyphen, and `\` before a line break (a paragraph). */
const CONTROL_SYMBOL_TEXT: Record<string, string> = {
  '\\': '\\', '{': '{', '}': '}', '~': '\u00A0', _: '\u2011', '\n': '\n', '\r': '\n',
};

/** Windows code pages for the `\fcharsetN` values of the RTF specification. */
const CHARSET_CODEPAGES: Record<number, number> = {
  77: 10000, 128: 932, 129: 949, 134: 936, 136: 950, 161: 1253, 162: 1254, 163: 1258, 177: 1255, 178: 1256,
  186: 1257, 204: 1251, 222: 874, 238: 1250,
};

/** Encoding labels that TextDecoder accepts, for code pages that differ from `windows-N`. */
const CODEPAGE_LABELS: Record<number, string> = {
  874: 'windows-874', 932: 'shift_jis', 936: 'gbk', 949: 'euc-kr', 950: 'big5', 866: 'ibm866', 10000: 'macintosh',
  65001: 'utf-8',
};

/** Converts RTF bytes to plain text. It does not throw on malformed input, and unbalanced braces are tolerated. */
export function extractRtf(bytes: Uint8Array): string {
  // latin1 maps each byte to one character, so `\binN` lengths and `\'hh` bytes stay exact.
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const output: string[] = [];
  const stack: GroupState[] = [];
  const fontCodepages = new Map<number, number>();
  let state: GroupState = { skip: false, inFontTable: false, hidden: false, unicodeFallbackLength: 1, font: undefined };
  let documentCodepage = 1252;
  let defaultFont: number | undefined;
  let pendingBytes: number[] = [];
  let fallbackToSkip = 0;
  let atGroupStart = false;
  let position = 0;

  // Bytes from `\'hh` escapes are decoded together, because a double-byte code page
  // (Shift-JIS, GBK, Big5) splits one character across two escapes.
  const flushBytes = (): void => {
    if (pendingBytes.length === 0) return;
    const codepage = fontCodepages.get(state.font ?? defaultFont ?? -1) ?? documentCodepage;
    output.push(decoderFor(codepage).decode(Uint8Array.from(pendingBytes)));
    pendingBytes = [];
  };
  const emit = (text: string): void => {
    if (state.skip || state.hidden) return;
    flushBytes();
    output.push(text);
  };

  while (position < source.length) {
    const char = source[position]!;

    if (char === '{' || char === '}') {
      flushBytes();
      if (char === '{') {
        stack.push(state);
        state = { ...state };
      } else {
        // A stray closing brace at the top level is ignored.
        state = stack.pop() ?? state;
      }
      atGroupStart = char === '{';
      fallbackToSkip = 0;
      position++;
      continue;
    }

    if (char === '\r' || char === '\n') {
      position++;
      continue;
    }

    if (char !== '\\') {
      if (fallbackToSkip > 0) {
        fallbackToSkip--;
        position++;
        continue;
      }
      const end = findSpecial(source, position);
      const run = source.slice(position, end);
      atGroupStart = false;
      position = end;
      if (state.skip || state.hidden) continue;
      if (!/[\x80-\xff]/.test(run)) {
        emit(run);
        continue;
      }
      // Unescaped 8-bit characters are code-page bytes, like `\'hh`.
      for (const byteChar of run) {
        const code = byteChar.charCodeAt(0);
        if (code >= 0x80) pendingBytes.push(code);
        else emit(byteChar);
      }
      continue;
    }

    const next = source[position + 1] ?? '';
    if (next === "'") {
      const byte = Number.parseInt(source.slice(position + 2, position + 4), 16);
      position += 4;
      atGroupStart = false;
      if (fallbackToSkip > 0) fallbackToSkip--;
      else if (!state.skip && !state.hidden && Number.isInteger(byte)) pendingBytes.push(byte);
      continue;
    }

    if (!/[A-Za-z]/.test(next)) {
      position += 2;
      if (next === '*') {
        // `{\*\dest ...}`: a destination that readers may ignore when they do not know it.
        if (atGroupStart) state.skip = true;
        continue;
      }
      atGroupStart = false;
      if (fallbackToSkip > 0) {
        fallbackToSkip--;
        continue;
      }
      const symbol = CONTROL_SYMBOL_TEXT[next];
      if (symbol !== undefined) emit(symbol);
      continue;
    }

    const match = /^\\([A-Za-z]{1,32})(-?\d{1,10})? ?/.exec(source.slice(position, position + 48))!;
    position += match[0].length;
    const word = match[1]!;
    const parameter = match[2] === undefined ? undefined : Number.parseInt(match[2], 10);
    const isDestination = atGroupStart;
    atGroupStart = false;

    if (word === 'bin') {
      position += Math.max(parameter ?? 0, 0);
      continue;
    }
    if (fallbackToSkip > 0) {
      fallbackToSkip--;
      continue;
    }
    if (isDestination && SKIPPED_DESTINATIONS.has(word)) {
      state.skip = true;
      if (word === 'fonttbl') state.inFontTable = true;
      continue;
    }

    switch (word) {
      case 'ansicpg':
        if (parameter !== undefined) documentCodepage = parameter;
        break;
      case 'mac':
        documentCodepage = 10000;
        break;
      case 'deff':
        defaultFont = parameter;
        break;
      case 'f':
        flushBytes();
        state.font = parameter;
        break;
      case 'fcharset':
      case 'cpg': {
        const codepage = word === 'cpg' ? parameter : CHARSET_CODEPAGES[parameter ?? -1];
        if (state.inFontTable && state.font !== undefined && codepage !== undefined) fontCodepages.set(state.font, codepage);
        break;
      }
      case 'plain':
        flushBytes();
        state.font = undefined;
        state.hidden = false;
        break;
      case 'v':
        flushBytes();
        state.hidden = parameter !== 0;
        break;
      case 'uc':
        state.unicodeFallbackLength = Math.max(parameter ?? 1, 0);
        break;
      case 'u':
        if (parameter !== undefined) {
          emit(String.fromCharCode(parameter < 0 ? parameter + 0x10000 : parameter));
          fallbackToSkip = state.unicodeFallbackLength;
        }
        break;
      default: {
        const text = CONTROL_WORD_TEXT[word];
        if (text !== undefined) emit(text);
      }
    }
  }

  flushBytes();
  return output.join('');
}

/** Returns the offset of the next character that is not plain text: a backslash, brace or line break. */
function findSpecial(source: string, from: number): number {
  const pattern = /[\\{}\r\n]/g;
  pattern.lastIndex = from;
  return pattern.exec(source)?.index ?? source.length;
}

const decoders = new Map<number, ByteDecoder>();

/** Returns a decoder for a Windows code page, falling back to windows-1252 for unknown ones. */
function decoderFor(codepage: number): ByteDecoder {
  let decoder = decoders.get(codepage);
  if (decoder === undefined) {
    const label = CODEPAGE_LABELS[codepage] ?? (codepage >= 1250 && codepage <= 1258 ? `windows-${codepage}` : 'windows-1252');
    try {
      decoder = decoderForLabel(label);
    } catch {
      decoder = decoderForLabel('windows-1252');
    }
    decoders.set(codepage, decoder);
  }
  return decoder;
}
