/**
 * Valid MQTT client packet sequences (CONNECT first, then a random mix of what a client may send), encoded
 * with mqtt-packet, a codec we did not write: the raw material the mutations start from.
 */
import mqttPacket from 'mqtt-packet';
import type { Random } from './prng';

type Version = 3 | 4 | 5;

const TOPICS = ['a', 'a/b', 'sensors/1/temp', '$SYS/x', 'x/y/z', 'é/ü', 'long/'.repeat(20)];
const FILTERS = ['#', '+', 'a/#', 'sensors/+/temp', '$share/g/a/b', 'x/y/z', '+/+/+'];

function encode(packet: mqttPacket.Packet, version: Version): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

function connect(random: Random, version: Version): mqttPacket.IConnectPacket {
  const packet: mqttPacket.IConnectPacket = {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clean: random.chance(0.5),
    clientId: `fuzz-${random.int(1_000_000)}`,
    keepalive: random.pick([0, 1, 30, 60, 65_535]),
  };
  // mqtt-packet refuses to encode an empty client id without clean session; the mutations produce that case.
  if (packet.clean && version !== 3 && random.chance(0.2)) packet.clientId = '';
  if (random.chance(0.3)) {
    packet.username = 'user';
    packet.password = Buffer.from('secret');
  }
  if (random.chance(0.3)) {
    packet.will = {
      topic: random.pick(TOPICS),
      payload: random.bytes(random.int(16)),
      qos: random.pick([0, 1, 2] as const),
      retain: random.chance(0.5),
    };
  }
  if (version === 5 && random.chance(0.5)) {
    packet.properties = {
      sessionExpiryInterval: random.pick([0, 60, 4_294_967_295]),
      receiveMaximum: random.range(1, 100),
      topicAliasMaximum: random.int(10),
      userProperties: { k: 'v' },
    };
  }
  return packet;
}

function followUp(random: Random, version: Version, nextId: () => number): mqttPacket.Packet {
  switch (random.int(9)) {
    case 0:
    case 1:
    case 2: {
      const qos = random.pick([0, 1, 2] as const);
      const packet: mqttPacket.IPublishPacket = {
        cmd: 'publish',
        topic: random.pick(TOPICS),
        payload: random.bytes(random.int(64)),
        qos,
        dup: qos > 0 && random.chance(0.1),
        retain: random.chance(0.2),
      };
      if (qos > 0) packet.messageId = nextId();
      if (version === 5 && random.chance(0.3)) {
        packet.properties = {
          topicAlias: random.range(1, 3),
          contentType: 'text/plain',
          correlationData: random.bytes(4),
        };
      }
      return packet;
    }
    case 3: {
      const packet: mqttPacket.ISubscribePacket = {
        cmd: 'subscribe',
        messageId: nextId(),
        subscriptions: [{ topic: random.pick(FILTERS), qos: random.pick([0, 1, 2] as const) }],
      };
      if (version === 5 && random.chance(0.3))
        packet.properties = { subscriptionIdentifier: random.range(1, 100) };
      return packet;
    }
    case 4:
      return { cmd: 'unsubscribe', messageId: nextId(), unsubscriptions: [random.pick(FILTERS)] };
    case 5:
      return { cmd: 'pingreq' };
    case 6:
      return { cmd: 'pubrel', messageId: random.range(1, 8) };
    case 7:
      return { cmd: random.pick(['puback', 'pubrec', 'pubcomp'] as const), messageId: random.range(1, 8) };
    default:
      return random.chance(0.5) ? { cmd: 'disconnect' } : { cmd: 'pingreq' };
  }
}

/** A valid sequence: one CONNECT and up to `maxFollowUps` packets, each encoded on its own. */
export function validSequence(random: Random, maxFollowUps = 8): Buffer[] {
  const version = random.pick([3, 4, 4, 5, 5] as const);
  let id = random.range(1, 65_000);
  const nextId = (): number => {
    id = (id % 65_535) + 1;
    return id;
  };
  const packets: Buffer[] = [encode(connect(random, version), version)];
  const count = random.int(maxFollowUps + 1);
  for (let i = 0; i < count; i++) packets.push(encode(followUp(random, version, nextId), version));
  return packets;
}
