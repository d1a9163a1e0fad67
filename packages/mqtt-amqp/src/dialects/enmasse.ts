import { amqpInt } from '../mapping/amqp-values';
import type { Dialect } from '../types';
import { dupFromDeliveryCount, qosFromDurable, readFlag, readQos } from './fields';
import { identityTopics } from './topics';

export const ENMASSE_QOS_ANNOTATION = 'x-opt-mqtt-qos';
export const ENMASSE_RETAIN_ANNOTATION = 'x-opt-retain-message';
// Made once: `readFlags` runs for every message (the names only show in errors).
const QOS_FIELD = `message-annotations.${ENMASSE_QOS_ANNOTATION}`;
const RETAIN_FIELD = `message-annotations.${ENMASSE_RETAIN_ANNOTATION}`;
const NO_ANNOTATIONS: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The spec's own spelling (EnMasse): QoS in message annotation `x-opt-mqtt-qos` (AMQP int, as EnMasse wrote
 * it), retain in `x-opt-retain-message` (boolean), DUP as header `delivery-count` (1 or 0). Without the QoS
 * annotation (a native AMQP sender), `durable` means QoS 1, otherwise QoS 0. Topics are addresses unchanged.
 */
export function enmasseDialect(): Dialect {
  return {
    name: 'enmasse',
    carries: { qos: 'all', retain: true, dup: true },
    reservedApplicationProperties: [],
    topicLinkSenderSettleMode: 'unsettled',
    writeFlags(flags, fields) {
      fields.messageAnnotations[ENMASSE_RETAIN_ANNOTATION] = flags.retain;
      fields.messageAnnotations[ENMASSE_QOS_ANNOTATION] = amqpInt(flags.qos);
      fields.deliveryCount = flags.dup ? 1 : 0;
    },
    readFlags(message) {
      const annotations = message.messageAnnotations ?? NO_ANNOTATIONS;
      const qos = readQos(annotations[ENMASSE_QOS_ANNOTATION], QOS_FIELD);
      return {
        qos: qos ?? qosFromDurable(message),
        retain: readFlag(annotations[ENMASSE_RETAIN_ANNOTATION], RETAIN_FIELD),
        dup: dupFromDeliveryCount(message),
      };
    },
    presettled: () => false,
    ...identityTopics,
  };
}
