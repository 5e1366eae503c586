import type { Logger } from 'pino';
import { JobError } from '../errors.js';
import type { CandidateData } from '../http/schemas.js';
import type { RecruiterInsights, ResumeAnalysis } from './analysis-schema.js';
import type { ExtractedDocument } from './extract/index.js';
import { assessQuality, scoreCandidate } from './scoring.js';

/** The analysis result delivered to callers; it never contains the resume text or the comments. */
export interface CandidateResult {
  candidate_id: string;
  name?: string;
  /** Null when the request carried recruiter comments only. */
  resume_analysis: ResumeAnalysis | null;
  /** Null when the request carried no recruiter comments. */
  recruiter_insights: RecruiterInsights | null;
  overall_score: number;
  recommendation: 'strong_hire' | 'hire' | 'maybe' | 'no_hire';
  quality: { score: number; warnings: string[] };
  model: string;
  processing_time: number;
  processing_timestamp: string;
}

/** Services one job uses; `service.ts` wires in the real ones and tests their stand-ins. */
export interface PipelineDeps {
  model: string;
  download: (url: string, signal: AbortSignal) => Promise<Uint8Array>;
  /** Extracts the text of a downloaded file; `service.ts` runs it in a worker thread with limits. */
  extract: (bytes: Uint8Array, signal: AbortSignal) => Promise<ExtractedDocument>;
  analyzeResume: (text: string, ctx: { signal: AbortSignal; roleLevel?: string; name?: string }) => Promise<ResumeAnalysis>;
  analyzeComments: (comments: string, ctx: { signal: AbortSignal; roleLevel?: string; name?: string }) => Promise<RecruiterInsights>;
  /** Records progress (0..1) and the stage name; called before each stage starts. */
  onProgress: (progress: number, stage: string) => void;
  /** Records how long a stage took, in seconds. */
  onStageDone?: (stage: string, seconds: number) => void;
  logger: Logger;
}

/** Stage names and the progress reported when each starts. */
export const STAGES = {
  fetch: 0.05,
  extract: 0.15,
  analyze_resume: 0.25,
  analyze_comments: 0.7,
  validate: 0.9,
} as const;

async function timed<T>(deps: PipelineDeps, stage: keyof typeof STAGES, run: () => Promise<T>): Promise<T> {
  deps.onProgress(STAGES[stage], stage);
  const started = performance.now();
  try {
    return await run();
  } finally {
    const seconds = (performance.now() - started) / 1000;
    deps.onStageDone?.(stage, seconds);
    deps.logger.debug({ stage, duration_ms: Math.round(seconds * 1000) }, 'stage finished');
  }
}

/**
 * Runs one candidate through fetch, extract, analysis and scoring. The resume bytes and
 * text live only in this function's memory. Throws `JobError` for failures the sender
 * should see, and rethrows an abort from `signal` unchanged.
 */
export async function runCandidatePipeline(
  candidate: CandidateData,
  signal: AbortSignal,
  deps: PipelineDeps,
): Promise<CandidateResult> {
  const started = Date.now();
  let resumeText = candidate.resume_text?.trim() ? candidate.resume_text : undefined;
  const context = { signal, roleLevel: candidate.role_level, name: candidate.name };

  if (!resumeText && candidate.resume_file_url) {
    const url = candidate.resume_file_url;
    const bytes = await timed(deps, 'fetch', () => deps.download(url, signal));
    const document = await timed(deps, 'extract', () => deps.extract(bytes, signal));
    deps.logger.info(
      { format: document.format, pages: document.pages, chars: document.text.length, warnings: document.warnings },
      'resume extracted',
    );
    resumeText = document.text;
  }

  let resumeAnalysis: ResumeAnalysis | null = null;
  if (resumeText) {
    const text = resumeText;
    resumeAnalysis = await timed(deps, 'analyze_resume', () => deps.analyzeResume(text, context));
  }

  let insights: RecruiterInsights | null = null;
  const comments = candidate.recruiter_comments?.trim();
  if (comments) {
    insights = await timed(deps, 'analyze_comments', () => deps.analyzeComments(comments, context));
  }

  if (!resumeAnalysis && !insights) {
    throw new JobError('no_input', 'The request had no resume text, resume file or recruiter comments to analyse');
  }

  return timed(deps, 'validate', async () => {
    const score = scoreCandidate(resumeAnalysis ?? undefined, insights ?? undefined);
    const quality = assessQuality(resumeAnalysis ?? undefined, insights ?? undefined, resumeText);
    const result: CandidateResult = {
      candidate_id: candidate.candidate_id,
      resume_analysis: resumeAnalysis,
      recruiter_insights: insights,
      overall_score: score.overall_score,
      recommendation: score.recommendation,
      quality,
      model: deps.model,
      processing_time: (Date.now() - started) / 1000,
      processing_timestamp: new Date().toISOString(),
    };
    if (candidate.name) result.name = candidate.name;
    return result;
  });
}
