import { LruMap } from './lru';

/** What to put on an outbound PUBLISH for its topic. */
export interface AliasedTopic {
  /** The topic name to write: the full topic, or '' when the alias alone names it. */
  readonly topic: string;
  /** The topic alias property to write, if any. */
  readonly topicAlias: number | undefined;
}

/**
 * Outbound topic aliases (MQTT 5, server → client). The client announces how many aliases it accepts
 * (CONNECT topic alias maximum); the first PUBLISH on a topic sends the topic with a fresh alias, later
 * ones send only the alias. When every alias is taken, the least recently used one is re-bound to the
 * new topic (sent again with its full name), so the table never exceeds the client's maximum.
 */
export class OutboundTopicAliases {
  private byTopic: LruMap<string, number> | undefined;
  private readonly free: number[] = [];

  /** @param maximum the client's topic alias maximum; 0 or undefined disables aliasing. */
  constructor(maximum: number | undefined) {
    if (maximum === undefined || maximum < 1) return;
    const capacity = Math.min(maximum, 0xffff);
    this.byTopic = new LruMap<string, number>(capacity, (_topic, alias) => this.free.push(alias));
    for (let alias = capacity; alias >= 1; alias--) this.free.push(alias);
  }

  get enabled(): boolean {
    return this.byTopic !== undefined;
  }

  /** Stops aliasing: every later PUBLISH carries its full topic. */
  disable(): void {
    this.byTopic = undefined;
  }

  /** Resolves the topic for one outbound PUBLISH. */
  resolve(topic: string): AliasedTopic {
    const table = this.byTopic;
    if (table === undefined || topic === '') return { topic, topicAlias: undefined };
    const known = table.get(topic);
    if (known !== undefined) return { topic: '', topicAlias: known };
    // All aliases taken: re-bind the least recently used one.
    const alias = this.free.pop() ?? table.shift()?.[1];
    if (alias === undefined) return { topic, topicAlias: undefined };
    table.set(topic, alias);
    return { topic, topicAlias: alias };
  }
}
