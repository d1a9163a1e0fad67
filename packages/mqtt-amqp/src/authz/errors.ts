/** A line of an ACL file that cannot be read. */
export class AclSyntaxError extends Error {
  override readonly name = 'AclSyntaxError';
  /** 1-based line number. */
  readonly line: number;
  constructor(line: number, message: string) {
    super(`ACL line ${line}: ${message}`);
    this.line = line;
  }
}
