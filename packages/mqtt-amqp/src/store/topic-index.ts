/**
 * A trie of topic names, one node per level, for finding every stored topic a filter matches.
 *
 * This is the reverse of a subscription tree (which finds the filters matching one topic): the retained store
 * asks "which topics match this filter". A lookup visits only the nodes the filter can reach: O(levels) for a
 * filter without wildcards, O(children at that level) per `+`, and the whole subtree for `#`.
 */
interface TopicNode {
  readonly children: Map<string, TopicNode>;
  /** Set when a stored topic ends at this node. */
  topic: string | undefined;
}

function newNode(): TopicNode {
  return { children: new Map(), topic: undefined };
}

export class TopicIndex {
  readonly #root = newNode();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(topic: string): boolean {
    return this.#find(topic)?.topic !== undefined;
  }

  /** Adds a topic; false when it was already there. */
  add(topic: string): boolean {
    let node = this.#root;
    for (const level of topic.split('/')) {
      let child = node.children.get(level);
      if (child === undefined) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.topic !== undefined) return false;
    node.topic = topic;
    this.#size++;
    return true;
  }

  /** Removes a topic and prunes the nodes left empty; false when it was not there. */
  remove(topic: string): boolean {
    const levels = topic.split('/');
    const path: TopicNode[] = [this.#root];
    for (const level of levels) {
      const child = path[path.length - 1]!.children.get(level);
      if (child === undefined) return false;
      path.push(child);
    }
    const leaf = path[path.length - 1]!;
    if (leaf.topic === undefined) return false;
    leaf.topic = undefined;
    this.#size--;
    for (let i = levels.length; i > 0; i--) {
      const node = path[i]!;
      if (node.topic !== undefined || node.children.size > 0) break;
      path[i - 1]!.children.delete(levels[i - 1]!);
    }
    return true;
  }

  /**
   * Every stored topic the filter matches (MQTT rules: `+` one level, `#` the rest including the parent level,
   * and a filter starting with a wildcard does not match topics starting with `$`), sorted.
   * Iterative, so that a topic of thousands of levels cannot overflow the stack.
   */
  match(filter: string): string[] {
    const levels = filter.split('/');
    const out: string[] = [];
    const stack: Array<{ node: TopicNode; depth: number }> = [{ node: this.#root, depth: 0 }];
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      const { node, depth } = item;
      if (depth === levels.length) {
        if (node.topic !== undefined) out.push(node.topic);
        continue;
      }
      const level = levels[depth]!;
      if (level === '#') {
        collect(node, depth === 0, out);
      } else if (level === '+') {
        for (const [name, child] of node.children) {
          if (depth === 0 && name.startsWith('$')) continue;
          stack.push({ node: child, depth: depth + 1 });
        }
      } else {
        const child = node.children.get(level);
        if (child !== undefined) stack.push({ node: child, depth: depth + 1 });
      }
    }
    return out.sort();
  }

  /** Every stored topic, unordered. */
  topics(): string[] {
    const out: string[] = [];
    collect(this.#root, false, out);
    return out;
  }

  #find(topic: string): TopicNode | undefined {
    let node: TopicNode | undefined = this.#root;
    for (const level of topic.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node;
  }
}

/** Appends every topic at or below `start`; below the root, topics starting with `$` are skipped when asked. */
function collect(start: TopicNode, skipDollar: boolean, out: string[]): void {
  if (start.topic !== undefined) out.push(start.topic);
  const stack: TopicNode[] = [];
  for (const [name, child] of start.children) {
    if (skipDollar && name.startsWith('$')) continue;
    stack.push(child);
  }
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.topic !== undefined) out.push(node.topic);
    for (const child of node.children.values()) stack.push(child);
  }
}
