/**
 * Link names on one AMQP connection. rhea keys links by name within a session, and the spec fixes the Will
 * service link's name to the client id, so the other links of a client get names derived from the client
 * id (`<client id>/<purpose>`) and this registry keeps every name on a connection unique: a derived name
 * that happens to be taken (a client id that looks like another client's derived name) gets a `~<n>`
 * suffix. The will link's name cannot change, so `claimExact` reports a clash instead.
 */
export class LinkNames {
  private readonly taken = new Set<string>();

  get size(): number {
    return this.taken.size;
  }

  /** Claims `name` exactly; false when it is in use. */
  claimExact(name: string): boolean {
    if (this.taken.has(name)) return false;
    this.taken.add(name);
    return true;
  }

  /** Claims `<clientId>/<purpose>`, or that name with the first free `~<n>` suffix. */
  claimDerived(clientId: string, purpose: string): string {
    const base = `${clientId}/${purpose}`;
    let name = base;
    for (let n = 2; this.taken.has(name); n++) name = `${base}~${n}`;
    this.taken.add(name);
    return name;
  }

  release(name: string): void {
    this.taken.delete(name);
  }
}
