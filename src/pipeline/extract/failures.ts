import { JobError } from '../../errors.js';

/** The formats a sender may use, as listed in every rejection message. */
export const SUPPORTED_TYPES_TEXT = 'PDF, DOCX, ODT, RTF, HTML or plain text (UTF-8)';

/** Builds the `file_empty` error for a file with no bytes, only whitespace, or no text in it. */
export function fileEmptyError(detail: string): JobError {
  return new JobError('file_empty', `${detail} Check that the right file was attached and send it again.`);
}

/** Builds the `unsupported_file_type` error. `description` names what the bytes look like. */
export function unsupportedFileTypeError(description: string): JobError {
  return new JobError(
    'unsupported_file_type',
    `The file is ${description}, which is not a supported resume format. Send the resume as ${SUPPORTED_TYPES_TEXT}.`,
  );
}

/** Builds the `file_corrupt` error for bytes that carry a format's signature but cannot be parsed. */
export function fileCorruptError(formatLabel: string, cause?: unknown): JobError {
  return new JobError(
    'file_corrupt',
    `The file looks like ${formatLabel} but could not be read, so it is probably damaged or incomplete. ` +
      'Export or save the resume again and send the new file.',
    { cause },
  );
}

/** Builds the `pdf_encrypted` error for a PDF that needs a password to open. */
export function pdfEncryptedError(cause?: unknown): JobError {
  return new JobError('pdf_encrypted', 'The PDF is password-protected. Remove the password and send it again.', {
    cause,
  });
}

/**
 * Builds the error for a password-protected document other than a PDF. It uses
 * `unsupported_file_type` because `pdf_encrypted` names the PDF format.
 */
export function protectedDocumentError(formatLabel: string): JobError {
  return new JobError(
    'unsupported_file_type',
    `The ${formatLabel} is password-protected and cannot be read. Remove the password and send it again.`,
  );
}

/** Builds the `no_text_layer` error for a PDF whose pages carry no extractable text. */
export function noTextLayerError(): JobError {
  return new JobError(
    'no_text_layer',
    'The PDF contains no extractable text, so it is probably a scan or an image. ' +
      'Text recognition (OCR) is not available: send a text-based PDF or a DOCX, or put the resume text in resume_text.',
  );
}

/**
 * Builds the `file_too_complex` error for a file past a structural limit (page count,
 * inflated size of a DOCX or ODT, XML nesting). `detail` names the limit that was hit.
 */
export function fileTooComplexError(detail: string, cause?: unknown): JobError {
  return new JobError(
    'file_too_complex',
    `${detail} This is far beyond a normal resume, so the file was not read. ` +
      'Send only the resume, exported again as a PDF or DOCX, or put its text in resume_text.',
    { cause },
  );
}
