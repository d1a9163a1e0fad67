import { amqpInt } from '../mapping/amqp-values';
import type { Dialect } from '../types';
import { readFlag, readQos } from './fields';
import { checkTopicName, dottedTopics } from './topics';

export const ARTEMIS_QOS_PROPERTY = 'mqtt.qos.level';
export const ARTEMIS_RETAIN_PROPERTY = 'mqtt.message.retain';

/**
 * ActiveMQ Artemis: QoS in application property `mqtt.qos.level` (int), retain in `mqtt.message.retain`
 * (boolean), no DUP. A message without the QoS property is QoS 2 (Artemis then caps it by the subscription).
 * Topic `a/b` ⇄ address `a.b`, filter `+` ⇄ `*`, `#` ⇄ `#` (Artemis' default wildcard syntax).
 */
export function artemisDialect(): Dialect {
  return {
    name: 'artemis',
    carries: { qos: 'all', retain: true, dup: false },
    reservedApplicationProperties: [ARTEMIS_QOS_PROPERTY, ARTEMIS_RETAIN_PROPERTY],
    topicLinkSenderSettleMode: 'unsettled',
    writeFlags(flags, fields) {
      fields.applicationProperties[ARTEMIS_QOS_PROPERTY] = amqpInt(flags.qos);
      fields.applicationProperties[ARTEMIS_RETAIN_PROPERTY] = flags.retain;
    },
    readFlags(message) {
      const properties = message.applicationProperties ?? {};
      const qos = readQos(properties[ARTEMIS_QOS_PROPERTY], `application-properties.${ARTEMIS_QOS_PROPERTY}`);
      return {
        qos: qos ?? 2,
        retain: readFlag(
          properties[ARTEMIS_RETAIN_PROPERTY],
          `application-properties.${ARTEMIS_RETAIN_PROPERTY}`,
        ),
        dup: false,
      };
    },
    presettled: () => false,
    topicToAddress: dottedTopics.toKey,
    addressToTopic: (address) => checkTopicName(dottedTopics.fromKey(address), address),
    filterToAddress: dottedTopics.filterToKey,
  };
}
