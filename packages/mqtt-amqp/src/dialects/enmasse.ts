import { amqpInt } from '../mapping/amqp-values';
import type { Dialect } from '../types';
import { dupFromDeliveryCount, qosFromDurable, readFlag, readQos } from './fields';
import { identityTopics } from './topics';

export const ENMASSE_QOS_ANNOTATION = 'x-opt-mqtt-qos';
export const ENMASSE_RETAIN_ANNOTATION = 'x-opt-retain-message';

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
      const annotations = message.messageAnnotations ?? {};
      const qos = readQos(
        annotations[ENMASSE_QOS_ANNOTATION],
        `message-annotations.${ENMASSE_QOS_ANNOTATION}`,
      );
      return {
        qos: qos ?? qosFromDurable(message),
        retain: readFlag(
          annotations[ENMASSE_RETAIN_ANNOTATION],
          `message-annotations.${ENMASSE_RETAIN_ANNOTATION}`,
        ),
        dup: dupFromDeliveryCount(message),
      };
    },
    presettled: () => false,
    ...identityTopics,
  };
}
