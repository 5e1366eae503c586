/**
 * Scoring and quality checks computed by our code from a validated analysis. The model's own
 * verdict is one input among several and is never copied into the result, so the same analysis
 * always gets the same score.
 */
import type { RecruiterInsights, ResumeAnalysis } from './analysis-schema.js';

/** The top-level verdict of a result. */
export type Recommendation = 'strong_hire' | 'hire' | 'maybe' | 'no_hire';

/** Score and verdict of one candidate. */
export interface CandidateScore {
  /** Weighted score in 0..1, rounded to 3 decimals. */
  overall_score: number;
  recommendation: Recommendation;
}

/** Quality of one analysis. */
export interface QualityReport {
  /** 1 minus the penalties of the warnings found, in 0..1, rounded to 3 decimals. */
  score: number;
  /** One line per problem, each starting with a stable snake_case code such as `years_experience_implausible:`. */
  warnings: string[];
}

/** Weights of the score components; they add up to 1. */
export const SCORE_WEIGHTS = {
  seniority: 0.25,
  experience: 0.2,
  leadership: 0.15,
  recruiterRecommendation: 0.3,
  recruiterSentiment: 0.1,
} as const;

/** Years of experience at which the experience component reaches its maximum of 1. */
export const EXPERIENCE_CAP_YEARS = 12;

/** Value of each `career_trajectory.current_level` in the seniority component. */
export const SENIORITY_SCORES: Record<ResumeAnalysis['career_trajectory']['current_level'], number> = {
  entry: 0.2,
  mid: 0.45,
  senior: 0.7,
  lead: 0.8,
  staff: 0.85,
  principal: 0.9,
  director: 0.9,
  executive: 1,
};

/** Value of each `leadership_scope.leadership_level` when `has_leadership` is true. */
export const LEADERSHIP_SCORES: Record<NonNullable<ResumeAnalysis['leadership_scope']['leadership_level']>, number> = {
  none: 0.5,
  team_lead: 0.6,
  manager: 0.75,
  senior_manager: 0.85,
  director: 0.95,
  executive: 1,
};

/** Value of each recruiter recommendation in the recruiter-recommendation component. */
export const RECRUITER_RECOMMENDATION_SCORES: Record<RecruiterInsights['recommendation'], number> = {
  strong_hire: 1,
  hire: 0.8,
  maybe: 0.5,
  no_hire: 0,
};

/** Value of each recruiter sentiment in the recruiter-sentiment component. */
export const SENTIMENT_SCORES: Record<RecruiterInsights['sentiment'], number> = {
  positive: 1,
  mixed: 0.5,
  neutral: 0.5,
  negative: 0,
};

/** Lowest score of each recommendation, checked from the top down; below `maybe` is `no_hire`. */
export const RECOMMENDATION_THRESHOLDS = { strong_hire: 0.8, hire: 0.7, maybe: 0.5 } as const;

function roundTo3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Leadership component: the level's value when the candidate led people, otherwise 0.3 for mentoring or 0. */
function leadershipValue(scope: ResumeAnalysis['leadership_scope']): number {
  if (scope.has_leadership) return LEADERSHIP_SCORES[scope.leadership_level ?? 'none'];
  return scope.mentorship_experience ? 0.3 : 0;
}

/** Maps a score (already rounded) to its recommendation with {@link RECOMMENDATION_THRESHOLDS}. */
export function recommendationForScore(score: number): Recommendation {
  if (score >= RECOMMENDATION_THRESHOLDS.strong_hire) return 'strong_hire';
  if (score >= RECOMMENDATION_THRESHOLDS.hire) return 'hire';
  if (score >= RECOMMENDATION_THRESHOLDS.maybe) return 'maybe';
  return 'no_hire';
}

/**
 * Scores a candidate as a weighted mean of five components, each in 0..1:
 *
 * | component                | weight | value                                                                  |
 * | ------------------------ | ------ | ---------------------------------------------------------------------- |
 * | seniority                | 0.25   | {@link SENIORITY_SCORES}: entry 0.2, mid 0.45, senior 0.7 … executive 1 |
 * | experience               | 0.20   | min(years_experience, 12) / 12                                          |
 * | leadership               | 0.15   | {@link LEADERSHIP_SCORES} if has_leadership (0.5 without a level); else 0.3 with mentorship_experience, else 0 |
 * | recruiter recommendation | 0.30   | strong_hire 1, hire 0.8, maybe 0.5, no_hire 0                           |
 * | recruiter sentiment      | 0.10   | positive 1, mixed 0.5, neutral 0.5, negative 0                          |
 *
 * When one side is missing, the weights of the other side are scaled up to add to 1: resume
 * only gives seniority 0.417, experience 0.333, leadership 0.25; comments only give
 * recommendation 0.75, sentiment 0.25. The score is rounded to 3 decimals before the
 * thresholds apply: `strong_hire` from 0.8, `hire` from 0.7, `maybe` from 0.5, else `no_hire`.
 *
 * @throws TypeError when both analyses are missing, because there is nothing to score.
 */
export function scoreCandidate(resume: ResumeAnalysis | undefined, insights: RecruiterInsights | undefined): CandidateScore {
  if (!resume && !insights) throw new TypeError('scoreCandidate needs a resume analysis, recruiter insights or both');

  const parts: Array<[weight: number, value: number]> = [];
  if (resume) {
    const years = Math.max(0, resume.years_experience);
    parts.push(
      [SCORE_WEIGHTS.seniority, SENIORITY_SCORES[resume.career_trajectory.current_level]],
      [SCORE_WEIGHTS.experience, Math.min(years, EXPERIENCE_CAP_YEARS) / EXPERIENCE_CAP_YEARS],
      [SCORE_WEIGHTS.leadership, leadershipValue(resume.leadership_scope)],
    );
  }
  if (insights) {
    parts.push(
      [SCORE_WEIGHTS.recruiterRecommendation, RECRUITER_RECOMMENDATION_SCORES[insights.recommendation]],
      [SCORE_WEIGHTS.recruiterSentiment, SENTIMENT_SCORES[insights.sentiment]],
    );
  }

  const totalWeight = parts.reduce((sum, [weight]) => sum + weight, 0);
  const weighted = parts.reduce((sum, [weight, value]) => sum + weight * value, 0);
  const overall = roundTo3(Math.min(1, Math.max(0, weighted / totalWeight)));
  return { overall_score: overall, recommendation: recommendationForScore(overall) };
}

// ---------------------------------------------------------------------------------------------
// Quality
// ---------------------------------------------------------------------------------------------

/** Highest believable `years_experience`. */
export const MAX_PLAUSIBLE_YEARS = 50;

/** Minimum years of experience that usually go with a level; below it the level looks inflated. */
const MIN_YEARS_FOR_LEVEL: Partial<Record<ResumeAnalysis['career_trajectory']['current_level'], number>> = {
  senior: 3,
  lead: 4,
  staff: 6,
  principal: 8,
  director: 8,
  executive: 10,
};

/** Maximum years of experience that usually go with the entry level; above it the level looks deflated. */
const MAX_YEARS_FOR_ENTRY = 6;

/** Technical skills checked against the source text; the first ones are usually the most prominent. */
const SKILL_SAMPLE_SIZE = 12;

/** Score penalty of each warning code. */
export const QUALITY_PENALTIES = {
  years_experience_implausible: 0.3,
  level_inconsistent_with_years: 0.15,
  leadership_without_team: 0.1,
  leadership_level_without_leadership: 0.1,
  no_technical_skills: 0.2,
  no_domain_expertise: 0.1,
  skills_not_in_source: 0.25,
  recommendation_contradicts_sentiment: 0.2,
  strong_hire_with_red_flags: 0.1,
} as const;

type QualityCode = keyof typeof QUALITY_PENALTIES;

/** Lowercases and removes everything but letters and digits, so "Node.js" matches "nodejs". */
function compact(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * Returns the sampled skills that appear nowhere in the source text, compared case-insensitively
 * and also with punctuation and spaces removed. A skill whose compact form is shorter than 3
 * characters ("C", "R") only counts when found as typed.
 */
function skillsMissingFromSource(skills: readonly string[], sourceText: string): string[] {
  const lowerSource = sourceText.toLowerCase();
  const compactSource = compact(sourceText);
  return skills.slice(0, SKILL_SAMPLE_SIZE).filter((skill) => {
    if (lowerSource.includes(skill.toLowerCase())) return false;
    const compactSkill = compact(skill);
    return !(compactSkill.length >= 3 && compactSource.includes(compactSkill));
  });
}

/**
 * Checks an analysis for values that are implausible or contradict each other, and for
 * technical skills that the source text does not contain (a cheap hallucination check on the
 * first 12 skills, run only when `sourceText` is given). Each warning lowers the score by its
 * {@link QUALITY_PENALTIES} value. Deterministic, and never quotes the source text.
 */
export function assessQuality(
  resume: ResumeAnalysis | undefined,
  insights: RecruiterInsights | undefined,
  sourceText?: string,
): QualityReport {
  if (!resume && !insights) return { score: 0, warnings: ['no_analysis: neither a resume analysis nor recruiter insights is present'] };

  const found: Array<[QualityCode, string]> = [];
  const warn = (code: QualityCode, detail: string) => found.push([code, detail]);

  if (resume) {
    const years = resume.years_experience;
    const level = resume.career_trajectory.current_level;
    const yearsPlausible = years >= 0 && years <= MAX_PLAUSIBLE_YEARS;
    if (!yearsPlausible) {
      warn('years_experience_implausible', `years_experience is ${years}; expected 0 to ${MAX_PLAUSIBLE_YEARS}`);
    }

    const minYears = MIN_YEARS_FOR_LEVEL[level];
    if (yearsPlausible && minYears !== undefined && years < minYears) {
      warn('level_inconsistent_with_years', `current_level "${level}" with ${years} years of experience; expected at least ${minYears}`);
    } else if (yearsPlausible && level === 'entry' && years > MAX_YEARS_FOR_ENTRY) {
      warn('level_inconsistent_with_years', `current_level "entry" with ${years} years of experience; expected at most ${MAX_YEARS_FOR_ENTRY}`);
    }

    const scope = resume.leadership_scope;
    if (scope.has_leadership && scope.team_size === 0) {
      warn('leadership_without_team', 'has_leadership is true but team_size is 0');
    }
    if (!scope.has_leadership && scope.leadership_level !== undefined && scope.leadership_level !== 'none') {
      warn('leadership_level_without_leadership', `has_leadership is false but leadership_level is "${scope.leadership_level}"`);
    }

    if (resume.technical_skills.length === 0) warn('no_technical_skills', 'technical_skills is empty');
    if (resume.career_trajectory.domain_expertise.length === 0) warn('no_domain_expertise', 'domain_expertise is empty');

    if (sourceText !== undefined && resume.technical_skills.length > 0) {
      const sampled = Math.min(resume.technical_skills.length, SKILL_SAMPLE_SIZE);
      const missing = skillsMissingFromSource(resume.technical_skills, sourceText);
      // Models normalise some names ("JS" to "JavaScript"), so only a large share of misses counts.
      if (missing.length > 0 && missing.length / sampled > 1 / 3) {
        const names = missing.slice(0, 5).map((skill) => `"${skill}"`).join(', ');
        warn('skills_not_in_source', `${missing.length} of ${sampled} sampled technical skills are not in the resume text: ${names}`);
      }
    }
  }

  if (insights) {
    const positiveVerdict = insights.recommendation === 'strong_hire' || insights.recommendation === 'hire';
    if ((positiveVerdict && insights.sentiment === 'negative') || (insights.recommendation === 'no_hire' && insights.sentiment === 'positive')) {
      warn('recommendation_contradicts_sentiment', `recommendation "${insights.recommendation}" with sentiment "${insights.sentiment}"`);
    }
    if (insights.recommendation === 'strong_hire' && insights.red_flags.length > 0) {
      warn('strong_hire_with_red_flags', `recommendation "strong_hire" with ${insights.red_flags.length} red flags`);
    }
  }

  const penalty = found.reduce((sum, [code]) => sum + QUALITY_PENALTIES[code], 0);
  return {
    score: roundTo3(Math.max(0, 1 - penalty)),
    warnings: found.map(([code, detail]) => `${code}: ${detail}`),
  };
}
