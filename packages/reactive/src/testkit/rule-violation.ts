/** Thrown by a rule check when the implementation under test breaks the rule. */
export class RuleViolation extends Error {
  override readonly name = 'RuleViolation';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`${rule}: ${message}`);
  }
}

/** Throws a RuleViolation unless `condition` holds. */
export function check(condition: boolean, rule: string, message: string): asserts condition {
  if (!condition) throw new RuleViolation(rule, message);
}
