/**
 * The one definition of what the model must return for a resume and for recruiter comments.
 *
 * The same zod schemas validate the model output and, through `z.toJSONSchema`, become the
 * JSON Schema sent as Ollama's `format`, so the grammar that constrains sampling and the
 * validator can never disagree. Enumerations are lowercase snake_case words because the cloud
 * side's profile schema stores them that way. Every field carries a `.describe()` text: it ends
 * up in the JSON Schema, and the prompt repeats that schema, because a format grammar alone
 * does not tell the model what a field means.
 *
 * Bounds on strings, arrays and integers are there to keep the grammar from letting a weak
 * model loop: a `maxItems` or `maxLength` ends a runaway list or string at a known size.
 */
import { z } from 'zod';

/** Maximum characters of one free-text item (a skill, a strength, a company name). */
const MAX_ITEM_CHARS = 120;

function textList(description: string, maxItems: number) {
  return z.array(z.string().min(1).max(MAX_ITEM_CHARS)).max(maxItems).describe(description);
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

/** Seniority of the candidate's most recent role, from junior to the top of an organisation. */
export const CURRENT_LEVELS = ['entry', 'mid', 'senior', 'lead', 'staff', 'principal', 'director', 'executive'] as const;

/** Speed of promotion compared with a typical career in the same field. */
export const PROGRESSION_SPEEDS = ['slow', 'steady', 'fast'] as const;

/** The overall shape of the career path. */
export const TRAJECTORY_TYPES = [
  'individual_contributor',
  'technical_leadership',
  'people_management',
  'entrepreneurial',
  'career_change',
  'mixed',
] as const;

/** The highest leadership responsibility the resume shows. */
export const LEADERSHIP_LEVELS = ['none', 'team_lead', 'manager', 'senior_manager', 'director', 'executive'] as const;

/** Reputation tier of the employers, or `unknown` when the resume does not allow a judgement. */
export const TIER_LEVELS = ['tier_1', 'tier_2', 'tier_3', 'startup', 'unknown'] as const;

/** Kinds of employer the candidate worked for. */
export const COMPANY_TYPES = [
  'big_tech',
  'enterprise',
  'scale_up',
  'startup',
  'agency',
  'consulting',
  'government',
  'nonprofit',
  'academia',
  'other',
] as const;

/** Public recognition of the candidate's employers. */
export const BRAND_RECOGNITION_LEVELS = ['high', 'medium', 'low'] as const;

/** Highest completed formal education. */
export const DEGREES = ['none', 'high_school', 'associate', 'bachelor', 'master', 'mba', 'phd', 'bootcamp', 'other'] as const;

/** Overall tone of the recruiter's comments. */
export const SENTIMENTS = ['positive', 'neutral', 'negative', 'mixed'] as const;

/** The recruiter's verdict as the comments express it; our own score never copies it. */
export const RECRUITER_RECOMMENDATIONS = ['strong_hire', 'hire', 'maybe', 'no_hire'] as const;

/** Time until the candidate could succeed in the target role. */
export const READINESS_LEVELS = ['ready_now', 'ready_with_support', 'needs_development', 'not_ready'] as const;

/** A three-step rating used by the cultural-fit fields, with `unknown` when the comments are silent. */
export const FIT_RATINGS = ['strong', 'moderate', 'weak', 'unknown'] as const;

/** The candidate's communication style as the recruiter describes it. */
export const COMMUNICATION_STYLES = ['direct', 'diplomatic', 'collaborative', 'analytical', 'reserved', 'unknown'] as const;

/** Ability to cope with change, as the recruiter describes it. */
export const ADAPTABILITY_LEVELS = ['high', 'medium', 'low', 'unknown'] as const;

// ---------------------------------------------------------------------------------------------
// resume_analysis
// ---------------------------------------------------------------------------------------------

/** Zod schema of `resume_analysis`: what one model call extracts from one resume. */
export const resumeAnalysisSchema = z
  .object({
    career_trajectory: z
      .object({
        current_level: z.enum(CURRENT_LEVELS).describe('Seniority of the most recent role.'),
        progression_speed: z
          .enum(PROGRESSION_SPEEDS)
          .describe('How quickly the candidate was promoted compared with a typical career in the field.'),
        trajectory_type: z.enum(TRAJECTORY_TYPES).describe('Overall shape of the career path.'),
        career_changes: z
          .number()
          .int()
          .min(0)
          .max(20)
          .optional()
          .describe('Number of times the candidate switched field or profession; omit when unclear.'),
        domain_expertise: textList('Industries or problem domains the candidate has worked in, e.g. "payments".', 15),
      })
      .describe('Where the career stands and how it developed.'),
    leadership_scope: z
      .object({
        has_leadership: z.boolean().describe('True only when the resume names a role that led people or teams.'),
        team_size: z
          .number()
          .int()
          .min(0)
          .max(100_000)
          .optional()
          .describe('Largest number of people the candidate led, as stated in the resume; omit when not stated.'),
        leadership_level: z.enum(LEADERSHIP_LEVELS).optional().describe('Highest leadership responsibility held.'),
        leadership_style: textList('Leadership styles the resume shows, e.g. "hands-on", "coaching".', 10),
        mentorship_experience: z
          .boolean()
          .optional()
          .describe('True when the resume mentions mentoring, coaching or onboarding others.'),
      })
      .describe('Leadership experience stated in the resume.'),
    company_pedigree: z
      .object({
        tier_level: z
          .enum(TIER_LEVELS)
          .describe('Reputation tier of the employers; "unknown" when the resume does not allow a judgement.'),
        company_types: z.array(z.enum(COMPANY_TYPES)).max(10).describe('Kinds of employer the candidate worked for.'),
        brand_recognition: z.enum(BRAND_RECOGNITION_LEVELS).optional().describe('How widely known the employers are.'),
        recent_companies: textList('Employer names from the most recent roles, newest first, as written in the resume.', 10),
      })
      .describe('The employers and their standing.'),
    years_experience: z
      .number()
      .min(0)
      .max(80)
      .describe('Total years of professional experience, computed from the dates in the resume.'),
    technical_skills: textList('Technical skills, tools and languages named in the resume, as written there.', 50),
    soft_skills: textList('Interpersonal skills the resume demonstrates or names.', 20),
    education: z
      .object({
        highest_degree: z.enum(DEGREES).optional().describe('Highest completed degree.'),
        institutions: textList('Schools and universities named in the resume.', 10),
        fields_of_study: textList('Fields of study, e.g. "computer science".', 10),
      })
      .optional()
      .describe('Formal education; omit when the resume lists none.'),
    cultural_signals: textList('Signals about working culture, e.g. "open source contributor", "remote-first".', 15),
  })
  .describe('Structured analysis of one resume.');

/** Validated output of the resume call. */
export type ResumeAnalysis = z.infer<typeof resumeAnalysisSchema>;

// ---------------------------------------------------------------------------------------------
// recruiter_insights
// ---------------------------------------------------------------------------------------------

/** Zod schema of `recruiter_insights`: what one model call extracts from the recruiter's comments. */
export const recruiterInsightsSchema = z
  .object({
    sentiment: z.enum(SENTIMENTS).describe('Overall tone of the recruiter comments.'),
    strengths: textList('Strengths the recruiter names.', 15),
    concerns: textList('Concerns the recruiter raises that are not disqualifying.', 15),
    red_flags: textList('Serious problems the recruiter reports, e.g. "misrepresented employment dates".', 10),
    leadership_indicators: textList('Evidence of leadership the recruiter mentions.', 10),
    cultural_fit: z
      .object({
        cultural_alignment: z.enum(FIT_RATINGS).describe('How well the candidate fits the company culture.'),
        work_style: textList('Work styles the recruiter describes, e.g. "autonomous".', 10),
        values_alignment: textList('Values the candidate shares with the company, as the recruiter reports them.', 10),
        team_fit: z.enum(FIT_RATINGS).describe('How well the candidate would fit the team.'),
        communication_style: z.enum(COMMUNICATION_STYLES).describe('Communication style the recruiter observed.'),
        adaptability: z.enum(ADAPTABILITY_LEVELS).describe('How well the candidate copes with change.'),
        cultural_add: textList('What the candidate would add to the culture that the team lacks.', 10),
      })
      .describe('Cultural fit as the recruiter judges it.'),
    recommendation: z.enum(RECRUITER_RECOMMENDATIONS).describe("The recruiter's own verdict as the comments express it."),
    readiness_level: z.enum(READINESS_LEVELS).describe('How soon the candidate could succeed in the target role.'),
    key_themes: textList('Recurring themes of the comments.', 10),
    development_areas: textList('Skills or behaviours the candidate should develop.', 10),
    competitive_advantages: textList('What sets the candidate apart from other candidates.', 10),
  })
  .describe('Structured analysis of the recruiter comments about one candidate.');

/** Validated output of the recruiter-comments call. */
export type RecruiterInsights = z.infer<typeof recruiterInsightsSchema>;

// ---------------------------------------------------------------------------------------------
// JSON Schemas for Ollama's `format`
// ---------------------------------------------------------------------------------------------

/** A JSON Schema object as `z.toJSONSchema` produces it. */
export type JsonSchemaObject = Record<string, unknown>;

/**
 * JSON Schema (draft 2020-12) of {@link resumeAnalysisSchema}, sent as Ollama's `format`.
 * The `$schema` key stays because Ollama accepts any JSON object as a schema format.
 */
export const resumeAnalysisJsonSchema: JsonSchemaObject = z.toJSONSchema(resumeAnalysisSchema);

/** JSON Schema (draft 2020-12) of {@link recruiterInsightsSchema}, sent as Ollama's `format`. */
export const recruiterInsightsJsonSchema: JsonSchemaObject = z.toJSONSchema(recruiterInsightsSchema);
