import type { Dialect } from '../types';
import { qosFromDurable, readFlag, readQos } from './fields';
import { identityTopics } from './topics';

export interface AzureDialectOptions {
  /** Default `mqtt-qos`. */
  qosProperty?: string;
  /** Default `mqtt-retain`. */
  retainProperty?: string;
  /** Default `mqtt-dup`. */
  dupProperty?: string;
}

/**
 * The Azure IoT Protocol Gateway: QoS, retain and DUP as application properties (`mqtt-qos`, `mqtt-retain`,
 * `mqtt-dup` by default; the names are configurable there and here). IoT Hub properties are strings, so the
 * values are written as `"0"`/`"1"`/`"2"` and `"true"`/`"false"`; numbers and booleans are read too.
 */
export function azureDialect(options: AzureDialectOptions = {}): Dialect {
  const qosProperty = options.qosProperty ?? 'mqtt-qos';
  const retainProperty = options.retainProperty ?? 'mqtt-retain';
  const dupProperty = options.dupProperty ?? 'mqtt-dup';
  return {
    name: 'azure',
    carries: { qos: 'all', retain: true, dup: true },
    reservedApplicationProperties: [qosProperty, retainProperty, dupProperty],
    topicLinkSenderSettleMode: 'unsettled',
    writeFlags(flags, fields) {
      fields.applicationProperties[qosProperty] = String(flags.qos);
      fields.applicationProperties[retainProperty] = String(flags.retain);
      fields.applicationProperties[dupProperty] = String(flags.dup);
    },
    readFlags(message) {
      const properties = message.applicationProperties ?? {};
      const qos = readQos(properties[qosProperty], `application-properties.${qosProperty}`);
      return {
        qos: qos ?? qosFromDurable(message),
        retain: readFlag(properties[retainProperty], `application-properties.${retainProperty}`),
        dup: readFlag(properties[dupProperty], `application-properties.${dupProperty}`),
      };
    },
    presettled: () => false,
    ...identityTopics,
  };
}
