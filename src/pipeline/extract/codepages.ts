import { TextDecoder } from 'node:util';

/**
 * Characters that windows-1252 assigns to bytes 0x80..0x9F. The five unassigned bytes map
 * to the C1 control of the same value, as in the WHATWG Encoding Standard.
 */
export const WINDOWS_1252_HIGH =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

/** The `decode` method shared by `TextDecoder` and the windows-1252 decoder below. */
export interface ByteDecoder {
  decode(bytes: Uint8Array): string;
}

/**
 * Decodes windows-1252 without `TextDecoder`: Node 20 from 20.18.3 on (20.20.2 included)
 * decodes that label as ISO-8859-1, which turns curly quotes, dashes and the euro sign
 * into C1 control characters.
 */
const windows1252Decoder: ByteDecoder = {
  decode(bytes: Uint8Array): string {
    const chunks: string[] = [];
    for (let start = 0; start < bytes.length; start += 8192) {
      const chars = Array.from(bytes.subarray(start, start + 8192), (byte) =>
        byte >= 0x80 && byte <= 0x9f ? WINDOWS_1252_HIGH[byte - 0x80]! : String.fromCharCode(byte),
      );
      chunks.push(chars.join(''));
    }
    return chunks.join('');
  },
};

/**
 * Returns a decoder for an encoding label ("utf-8", "shift_jis", "windows-1251", ...).
 * Labels that the Encoding Standard maps to windows-1252, including "latin1" and
 * "iso-8859-1", get the table-based decoder. Throws RangeError for unknown labels.
 */
export function decoderForLabel(label: string): ByteDecoder {
  const decoder = new TextDecoder(label);
  return decoder.encoding === 'windows-1252' ? windows1252Decoder : decoder;
}
