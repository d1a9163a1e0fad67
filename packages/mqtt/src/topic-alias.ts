import { MqttProtocolError } from './errors';
import { ReasonCode } from './reason-codes';

/**
 * Inbound MQTT 5 topic aliases (section 3.3.2.3.4): a PUBLISH with a topic and an alias sets the alias;
 * one with an empty topic and an alias uses it. At most `maximum` aliases (1..maximum) exist.
 */
export class InboundTopicAliases {
  /** Made when the client first sets an alias. */
  private aliases: Map<number, string> | undefined;

  constructor(readonly maximum: number) {}

  /** The topic the PUBLISH stands for. Throws MqttProtocolError (0x94 invalid alias, 0x82 unknown alias). */
  resolve(topic: string, alias: number | undefined): string {
    if (alias === undefined) return topic;
    if (alias === 0 || alias > this.maximum) {
      throw new MqttProtocolError(
        `topic alias ${alias} outside 1..${this.maximum}`,
        ReasonCode.TopicAliasInvalid,
      );
    }
    if (topic.length > 0) {
      this.aliases ??= new Map();
      this.aliases.set(alias, topic);
      return topic;
    }
    const known = this.aliases?.get(alias);
    if (known === undefined) {
      throw new MqttProtocolError(`topic alias ${alias} used before it was set`, ReasonCode.ProtocolError);
    }
    return known;
  }
}
