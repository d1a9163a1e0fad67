import {
  ConfigurationError,
  clientLinks,
  createAddresses,
  DEFAULT_ADDRESS_OPTIONS,
  topicLink,
} from '@dragoman/mqtt-amqp';
import { describe, expect, it } from 'vitest';

describe('addresses', () => {
  it("has the spec's defaults", () => {
    const a = createAddresses();
    expect(a.willService).toBe('$mqtt.willservice');
    expect(a.subscriptionService).toBe('$mqtt.subscriptionservice');
    expect(a.control('c1')).toBe('$mqtt.to.c1.control');
    expect(a.publish('c1')).toBe('$mqtt.to.c1.publish');
    expect(a.pubrel('c1')).toBe('$mqtt.c1.pubrel');
    expect(a.options).toEqual(DEFAULT_ADDRESS_OPTIONS);
  });

  it("takes EnMasse's own service addresses ($lwt, $subctrl) and custom templates", () => {
    const a = createAddresses({
      willService: '$lwt',
      subscriptionService: '$subctrl',
      clientPubrel: 'pubrel/{clientId}',
    });
    expect(a.willService).toBe('$lwt');
    expect(a.subscriptionService).toBe('$subctrl');
    expect(a.pubrel('c1')).toBe('pubrel/c1');
    expect(clientLinks('c1', a).will).toMatchObject({ address: '$lwt', name: 'c1' });
    expect(clientLinks('c1', a).subscriptionService).toMatchObject({ address: '$subctrl' });
  });

  it('parses the client id out of a per-client address, and nothing out of other addresses', () => {
    const a = createAddresses();
    expect(a.clientIdFrom('publish', '$mqtt.to.my.client.publish')).toBe('my.client');
    expect(a.clientIdFrom('control', '$mqtt.to..control')).toBe('');
    expect(a.clientIdFrom('pubrel', '$mqtt.x.pubrel')).toBe('x');
    expect(a.clientIdFrom('publish', '$mqtt.to.c1.control')).toBeUndefined();
    expect(a.clientIdFrom('publish', '$mqtt.to.publish')).toBeUndefined();
  });

  it('refuses templates without exactly one {clientId} and empty service addresses', () => {
    expect(() => createAddresses({ clientControl: 'no-placeholder' })).toThrow(ConfigurationError);
    expect(() => createAddresses({ clientPublish: '{clientId}/{clientId}' })).toThrow(
      expect.objectContaining({ option: 'clientPublish' }),
    );
    expect(() => createAddresses({ willService: '' })).toThrow(
      expect.objectContaining({ option: 'willService' }),
    );
  });
});

describe('link specs', () => {
  it('every fixed link of a client: names, roles, addresses, at-least-once settle modes', () => {
    const links = clientLinks('c1', createAddresses());
    expect(
      Object.values(links).map((l) => [
        l.purpose,
        l.role,
        l.name,
        l.address,
        l.senderSettleMode,
        l.receiverSettleMode,
      ]),
    ).toEqual([
      ['will', 'sender', 'c1', '$mqtt.willservice', 'unsettled', 'first'],
      [
        'subscription-service',
        'sender',
        'c1/subscription-service',
        '$mqtt.subscriptionservice',
        'unsettled',
        'first',
      ],
      ['control', 'receiver', 'c1/control', '$mqtt.to.c1.control', 'unsettled', 'first'],
      ['publish', 'receiver', 'c1/publish', '$mqtt.to.c1.publish', 'unsettled', 'first'],
      ['pubrel', 'sender', 'c1/pubrel', '$mqtt.c1.pubrel', 'unsettled', 'first'],
    ]);
    expect(clientLinks('c1', createAddresses(), { mixedPublish: true }).publish.senderSettleMode).toBe(
      'mixed',
    );
  });

  it('topic links: QoS 0/1 share one, QoS 2 has its own with receiver settle mode second; the address is the dialect’s', () => {
    expect(topicLink('c1', 'a/b', 0)).toEqual(topicLink('c1', 'a/b', 1));
    expect(topicLink('c1', 'a/b', 2)).toMatchObject({
      name: 'c1/topic-qos2/a/b',
      receiverSettleMode: 'second',
    });
    expect(topicLink('c1', 'a/b', 0, { dialect: 'hono' })).toMatchObject({ senderSettleMode: 'mixed' });
    expect(topicLink('c1', 'a/b', 1, { dialect: 'artemis' })).toMatchObject({
      name: 'c1/topic-qos01/a.b',
      address: 'a.b',
    });
  });
});
