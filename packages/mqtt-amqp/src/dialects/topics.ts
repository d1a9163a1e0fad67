import { MappingError } from '../errors';

/**
 * A topic name read back from an address must be a valid MQTT topic name: not empty, no wildcard characters,
 * no NUL (MQTT 5.0 §4.7.3, §1.5.4). Anything else is refused here rather than forwarded to a client.
 */
export function checkTopicName(topic: string, address: string): string {
  if (topic.length === 0 || topic.includes('+') || topic.includes('#') || topic.includes('\0')) {
    throw new MappingError('unmappable-topic', `address '${address}' does not give a valid MQTT topic name`, {
      field: 'properties.to',
    });
  }
  return topic;
}

/** Identity: the topic is the address (enmasse, hono, azure). */
export const identityTopics = {
  topicToAddress: (topic: string): string => topic,
  addressToTopic: (address: string): string => checkTopicName(address, address),
  filterToAddress: (filter: string): string => filter,
};

/**
 * The `.`-separated form of ActiveMQ Artemis and RabbitMQ: `/` → `.`, `+` → `*`, `#` → `#`. Both systems
 * replace rather than swap, so a `.` inside a topic level becomes a separator too (`v1.2/x` → `v1.2.x` →
 * `v1/2/x`), exactly as their own MQTT front ends do; the mapping mirrors them so that consumers of those
 * systems see the same addresses.
 */
export const dottedTopics = {
  toKey: (topic: string): string => topic.replaceAll('/', '.'),
  fromKey: (key: string): string => key.replaceAll('.', '/'),
  filterToKey(filter: string): string {
    return filter
      .split('/')
      .map((level) => {
        if (level === '+') return '*';
        if (level === '#') return '#';
        if (level.includes('*')) {
          throw new MappingError('unmappable-topic', `filter level '${level}' would become a '*' wildcard`, {
            field: 'filter',
          });
        }
        return level;
      })
      .join('.');
  },
};
