import type { MqttClient } from 'mqtt';

/** What `publishAll` tracks: ids acknowledged, ids that failed (with why), and when every id had an answer. */
export interface Publishing {
  readonly acked: Set<string>;
  readonly failures: string[];
  readonly allAnswered: Promise<void>;
}

/**
 * Publishes each id as the payload of one PUBLISH on `topic` at `qos`, all at once (mqtt.js queues them), and
 * tracks the answers; `onAnswer` runs after each (e.g. to let a waiting condition look again).
 */
export function publishAll(
  publisher: MqttClient,
  topic: string,
  ids: readonly string[],
  qos: 0 | 1 | 2,
  onAnswer?: () => void,
): Publishing {
  const acked = new Set<string>();
  const failures: string[] = [];
  const allAnswered = new Promise<void>((resolve) => {
    for (const id of ids) {
      publisher.publish(topic, id, { qos }, (error) => {
        if (error) failures.push(`${id}: ${error.message}`);
        else acked.add(id);
        onAnswer?.();
        if (acked.size + failures.length === ids.length) resolve();
      });
    }
  });
  return { acked, failures, allAnswered };
}
