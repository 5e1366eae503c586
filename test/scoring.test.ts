import { describe, expect, it } from 'vitest';
import type { RecruiterInsights, ResumeAnalysis } from '../src/pipeline/analysis-schema.js';
import { assessQuality, recommendationForScore, scoreCandidate, SCORE_WEIGHTS } from '../src/pipeline/scoring.js';
import { CANNED_RECRUITER_INSIGHTS, CANNED_RESUME_ANALYSIS } from './fixtures/ollama-stub.js';

function resume(overrides: Partial<ResumeAnalysis> = {}): ResumeAnalysis {
  return { ...(structuredClone(CANNED_RESUME_ANALYSIS) as ResumeAnalysis), ...overrides };
}

function insights(overrides: Partial<RecruiterInsights> = {}): RecruiterInsights {
  return { ...(structuredClone(CANNED_RECRUITER_INSIGHTS) as RecruiterInsights), ...overrides };
}

function withLevel(level: ResumeAnalysis['career_trajectory']['current_level'], years: number): ResumeAnalysis {
  const base = resume({ years_experience: years });
  base.career_trajectory.current_level = level;
  return base;
}

const SOURCE = 'Senior engineer at Acme Payments. Skills: TypeScript, Node.js, PostgreSQL, Kubernetes.';

describe('scoreCandidate', () => {
  it('weights add up to 1', () => {
    const total = Object.values(SCORE_WEIGHTS).reduce((sum, weight) => sum + weight, 0);
    expect(total).toBeCloseTo(1, 10);
  });

  it('canned senior with hire verdict', () => {
    // 0.25*0.7 + 0.2*(8/12) + 0.15*0.6 + 0.3*0.8 + 0.1*1 = 0.73833
    expect(scoreCandidate(resume(), insights())).toEqual({ overall_score: 0.738, recommendation: 'hire' });
  });

  it('top candidate is strong_hire', () => {
    const top = withLevel('executive', 20);
    top.leadership_scope = { has_leadership: true, leadership_level: 'executive', team_size: 200, leadership_style: [] };
    expect(scoreCandidate(top, insights({ recommendation: 'strong_hire', sentiment: 'positive' }))).toEqual({
      overall_score: 1,
      recommendation: 'strong_hire',
    });
  });

  it('weak candidate is no_hire', () => {
    const weak = withLevel('entry', 1);
    weak.leadership_scope = { has_leadership: false, leadership_style: [] };
    // 0.25*0.2 + 0.2*(1/12) + 0 + 0 + 0 = 0.06667
    expect(scoreCandidate(weak, insights({ recommendation: 'no_hire', sentiment: 'negative' }))).toEqual({
      overall_score: 0.067,
      recommendation: 'no_hire',
    });
  });

  it('caps years of experience at 12', () => {
    const twelve = scoreCandidate(resume({ years_experience: 12 }), insights());
    const thirty = scoreCandidate(resume({ years_experience: 30 }), insights());
    expect(thirty).toEqual(twelve);
  });

  it('mentoring without leadership counts 0.3', () => {
    const mentor = resume();
    mentor.leadership_scope = { has_leadership: false, mentorship_experience: true, leadership_style: [] };
    const none = resume();
    none.leadership_scope = { has_leadership: false, leadership_style: [] };
    const difference = scoreCandidate(mentor, insights()).overall_score - scoreCandidate(none, insights()).overall_score;
    expect(difference).toBeCloseTo(0.15 * 0.3, 2);
  });

  it('renormalises without insights', () => {
    // (0.25*0.7 + 0.2*(8/12) + 0.15*0.6) / 0.6 = 0.66389
    expect(scoreCandidate(resume(), undefined)).toEqual({ overall_score: 0.664, recommendation: 'maybe' });
  });

  it('renormalises without resume', () => {
    // (0.3*0.8 + 0.1*1) / 0.4 = 0.85
    expect(scoreCandidate(undefined, insights())).toEqual({ overall_score: 0.85, recommendation: 'strong_hire' });
  });

  it('rejects two missing analyses', () => {
    expect(() => scoreCandidate(undefined, undefined)).toThrow(TypeError);
  });

  it('is deterministic', () => {
    const scores = Array.from({ length: 5 }, () => scoreCandidate(resume(), insights()));
    for (const score of scores) expect(score).toEqual(scores[0]);
  });

  it('ignores the order of calls', () => {
    const first = scoreCandidate(resume(), insights());
    scoreCandidate(withLevel('entry', 0), insights({ recommendation: 'no_hire' }));
    expect(scoreCandidate(resume(), insights())).toEqual(first);
  });
});

describe('recommendationForScore', () => {
  it.each([
    [1, 'strong_hire'],
    [0.8, 'strong_hire'],
    [0.799, 'hire'],
    [0.7, 'hire'],
    [0.699, 'maybe'],
    [0.5, 'maybe'],
    [0.499, 'no_hire'],
    [0, 'no_hire'],
  ] as const)('%s is %s', (score, expected) => {
    expect(recommendationForScore(score)).toBe(expected);
  });

  it('rounding decides the boundary', () => {
    // Resume only, senior with a team_lead role: (0.175 + 0.2 * years / 12 + 0.09) / 0.6.
    // 9.29 years gives 0.69972, which rounds to 0.7 (hire); 9.28 years gives 0.69944, which rounds to 0.699.
    expect(scoreCandidate(resume({ years_experience: 9.29 }), undefined)).toEqual({ overall_score: 0.7, recommendation: 'hire' });
    expect(scoreCandidate(resume({ years_experience: 9.28 }), undefined)).toEqual({ overall_score: 0.699, recommendation: 'maybe' });
  });
});

describe('assessQuality', () => {
  it('clean analysis has no warnings', () => {
    expect(assessQuality(resume(), insights(), SOURCE)).toEqual({ score: 1, warnings: [] });
  });

  it.each([
    ['years above 50', resume({ years_experience: 62 }), 'years_experience_implausible'],
    ['negative years', resume({ years_experience: -1 }), 'years_experience_implausible'],
    ['staff with two years', withLevel('staff', 2), 'level_inconsistent_with_years'],
    ['entry with fifteen years', withLevel('entry', 15), 'level_inconsistent_with_years'],
    ['no technical skills', resume({ technical_skills: [] }), 'no_technical_skills'],
  ])('%s warns', (_name, analysis, code) => {
    const report = assessQuality(analysis, undefined);
    expect(report.warnings.map((warning) => warning.split(':')[0])).toEqual([code]);
    expect(report.score).toBeLessThan(1);
  });

  it('leadership with team_size 0 warns', () => {
    const analysis = resume();
    analysis.leadership_scope.team_size = 0;
    expect(assessQuality(analysis, undefined).warnings).toEqual(['leadership_without_team: has_leadership is true but team_size is 0']);
  });

  it('leadership level without leadership warns', () => {
    const analysis = resume();
    analysis.leadership_scope.has_leadership = false;
    expect(assessQuality(analysis, undefined).warnings[0]).toMatch(/^leadership_level_without_leadership:/);
  });

  it('empty domain expertise warns', () => {
    const analysis = resume();
    analysis.career_trajectory.domain_expertise = [];
    expect(assessQuality(analysis, undefined).warnings).toEqual(['no_domain_expertise: domain_expertise is empty']);
  });

  it('contradicting verdict and sentiment warn', () => {
    const hireNegative = assessQuality(undefined, insights({ recommendation: 'hire', sentiment: 'negative' }));
    expect(hireNegative.warnings[0]).toMatch(/^recommendation_contradicts_sentiment:/);
    const noHirePositive = assessQuality(undefined, insights({ recommendation: 'no_hire', sentiment: 'positive' }));
    expect(noHirePositive.warnings[0]).toMatch(/^recommendation_contradicts_sentiment:/);
    expect(assessQuality(undefined, insights({ recommendation: 'maybe', sentiment: 'negative' })).warnings).toEqual([]);
  });

  it('strong_hire with red flags warns', () => {
    const report = assessQuality(undefined, insights({ recommendation: 'strong_hire', red_flags: ['inflated titles'] }));
    expect(report.warnings).toEqual(['strong_hire_with_red_flags: recommendation "strong_hire" with 1 red flags']);
  });

  it('skills missing from source warn', () => {
    const analysis = resume({ technical_skills: ['TypeScript', 'Rust', 'Erlang', 'Haskell'] });
    const report = assessQuality(analysis, undefined, SOURCE);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/^skills_not_in_source: 3 of 4 sampled/);
    expect(report.warnings[0]).toContain('"Rust"');
    expect(report.score).toBe(0.75);
  });

  it('skill matching ignores case and punctuation', () => {
    const analysis = resume({ technical_skills: ['typescript', 'NodeJS', 'postgresql', 'kubernetes'] });
    expect(assessQuality(analysis, undefined, SOURCE).warnings).toEqual([]);
  });

  it('one normalised skill is tolerated', () => {
    const analysis = resume({ technical_skills: ['TypeScript', 'Node.js', 'PostgreSQL', 'JavaScript'] });
    expect(assessQuality(analysis, undefined, SOURCE).warnings).toEqual([]);
  });

  it('skips the skill check without source', () => {
    const analysis = resume({ technical_skills: ['Rust', 'Erlang'] });
    expect(assessQuality(analysis, undefined).warnings).toEqual([]);
  });

  it('penalties add up and floor at 0', () => {
    const bad = withLevel('executive', 70);
    bad.technical_skills = [];
    bad.career_trajectory.domain_expertise = [];
    bad.leadership_scope.team_size = 0;
    const report = assessQuality(bad, insights({ recommendation: 'strong_hire', sentiment: 'negative', red_flags: ['x'] }));
    // 0.3 + 0.2 + 0.1 + 0.1 + 0.2 + 0.1 = 1.0
    expect(report.warnings).toHaveLength(6);
    expect(report.score).toBe(0);
  });

  it('no analysis scores 0', () => {
    expect(assessQuality(undefined, undefined).score).toBe(0);
  });

  it('is deterministic', () => {
    const analysis = resume({ technical_skills: ['TypeScript', 'Rust', 'Erlang'] });
    expect(assessQuality(analysis, insights(), SOURCE)).toEqual(assessQuality(analysis, insights(), SOURCE));
  });
});
