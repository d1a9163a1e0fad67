import type { QoS } from '@dragoman/mqtt';
import { resolveDialect } from '../dialects/index';
import type { Addresses, LinkPurpose, LinkSpec, MappingOptions } from '../types';

/** `<client id>/<purpose>` (the will link alone is named by the client id, as the spec requires). */
export function linkName(clientId: string, purpose: Exclude<LinkPurpose, 'will'>, address?: string): string {
  return address === undefined ? `${clientId}/${purpose}` : `${clientId}/${purpose}/${address}`;
}

/** FE → WS: sender, named by the client id (the WS keys the will by it), at-least-once (unsettled / first). */
export function willLink(clientId: string, addresses: Addresses): LinkSpec {
  return {
    role: 'sender',
    name: clientId,
    purpose: 'will',
    address: addresses.willService,
    senderSettleMode: 'unsettled',
    receiverSettleMode: 'first',
  };
}

/** FE → SS: sender for list / close / subscribe / unsubscribe, at-least-once. */
export function subscriptionServiceLink(clientId: string, addresses: Addresses): LinkSpec {
  return {
    role: 'sender',
    name: linkName(clientId, 'subscription-service'),
    purpose: 'subscription-service',
    address: addresses.subscriptionService,
    senderSettleMode: 'unsettled',
    receiverSettleMode: 'first',
  };
}

/** SS → FE replies on `$mqtt.to.<id>.control`: receiver, at-least-once. */
export function controlLink(clientId: string, addresses: Addresses): LinkSpec {
  return {
    role: 'receiver',
    name: linkName(clientId, 'control'),
    purpose: 'control',
    address: addresses.control(clientId),
    senderSettleMode: 'unsettled',
    receiverSettleMode: 'first',
  };
}

/**
 * Every message for the client on `$mqtt.to.<id>.publish`: receiver, receiver settle mode first; sender settle
 * mode `unsettled` (the spec: everything arrives unsettled), or `mixed` when asked (the spec allows it).
 */
export function publishLink(
  clientId: string,
  addresses: Addresses,
  options: { mixed?: boolean } = {},
): LinkSpec {
  return {
    role: 'receiver',
    name: linkName(clientId, 'publish'),
    purpose: 'publish',
    address: addresses.publish(clientId),
    senderSettleMode: options.mixed === true ? 'mixed' : 'unsettled',
    receiverSettleMode: 'first',
  };
}

/** FE → `$mqtt.<id>.pubrel` for QoS 2 towards the client: sender, at-least-once. */
export function pubrelLink(clientId: string, addresses: Addresses): LinkSpec {
  return {
    role: 'sender',
    name: linkName(clientId, 'pubrel'),
    purpose: 'pubrel',
    address: addresses.pubrel(clientId),
    senderSettleMode: 'unsettled',
    receiverSettleMode: 'first',
  };
}

/**
 * FE → topic, one of two links per topic: QoS 0 and 1 share one (unsettled / first, or `mixed` / first for a
 * dialect that pre-settles QoS 0), QoS 2 has its own (unsettled / second). The address is the dialect's.
 */
export function topicLink(clientId: string, topic: string, qos: QoS, options: MappingOptions = {}): LinkSpec {
  const dialect = resolveDialect(options.dialect);
  const address = dialect.topicToAddress(topic);
  if (qos === 2) {
    return {
      role: 'sender',
      name: linkName(clientId, 'topic-qos2', address),
      purpose: 'topic-qos2',
      address,
      senderSettleMode: 'unsettled',
      receiverSettleMode: 'second',
    };
  }
  return {
    role: 'sender',
    name: linkName(clientId, 'topic-qos01', address),
    purpose: 'topic-qos01',
    address,
    senderSettleMode: dialect.topicLinkSenderSettleMode,
    receiverSettleMode: 'first',
  };
}

/** The fixed links of one client (topic links are per topic: `topicLink`). */
export function clientLinks(
  clientId: string,
  addresses: Addresses,
  options: { mixedPublish?: boolean } = {},
): { will: LinkSpec; subscriptionService: LinkSpec; control: LinkSpec; publish: LinkSpec; pubrel: LinkSpec } {
  return {
    will: willLink(clientId, addresses),
    subscriptionService: subscriptionServiceLink(clientId, addresses),
    control: controlLink(clientId, addresses),
    publish: publishLink(clientId, addresses, { mixed: options.mixedPublish === true }),
    pubrel: pubrelLink(clientId, addresses),
  };
}
