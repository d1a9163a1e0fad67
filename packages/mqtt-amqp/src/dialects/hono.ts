import type { Dialect } from '../types';
import { qosFromDurable, readFlag } from './fields';
import { identityTopics } from './topics';

export const HONO_RETAIN_ANNOTATION = 'x-opt-retain';
// Made once: `readFlags` runs for every message (the name only shows in errors).
const RETAIN_FIELD = `message-annotations.${HONO_RETAIN_ANNOTATION}`;

/**
 * Eclipse Hono's MQTT adapter: QoS is the settlement itself (QoS 0 pre-settled on a `mixed` link, QoS 1 and 2
 * unsettled; Hono has no QoS 2, so it arrives as 1), retain in message annotation `x-opt-retain`, no DUP.
 * A message whose settlement is unknown falls back to the spec's `durable` rule.
 */
export function honoDialect(): Dialect {
  return {
    name: 'hono',
    carries: { qos: 'at-most-1', retain: true, dup: false },
    reservedApplicationProperties: [],
    topicLinkSenderSettleMode: 'mixed',
    writeFlags(flags, fields) {
      fields.messageAnnotations[HONO_RETAIN_ANNOTATION] = flags.retain;
    },
    readFlags(message, delivery) {
      const retain = readFlag(message.messageAnnotations?.[HONO_RETAIN_ANNOTATION], RETAIN_FIELD);
      const qos = delivery.settled === undefined ? qosFromDurable(message) : delivery.settled ? 0 : 1;
      return { qos, retain, dup: false };
    },
    presettled: (qos) => qos === 0,
    ...identityTopics,
  };
}
