import type { RuleCheck, RuleResult } from './types';

/** Runs checks one after another and reports each, for runners without a test framework. */
export async function runRuleChecks(checks: readonly RuleCheck[]): Promise<RuleResult[]> {
  const results: RuleResult[] = [];
  for (const ruleCheck of checks) {
    const base = { rule: ruleCheck.rule, title: ruleCheck.title };
    if (ruleCheck.skipped !== undefined) {
      results.push({ ...base, status: 'skipped', detail: ruleCheck.skipped });
      continue;
    }
    try {
      await ruleCheck.run();
      results.push({ ...base, status: 'passed', detail: undefined });
    } catch (error) {
      results.push({
        ...base,
        status: 'failed',
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return results;
}
