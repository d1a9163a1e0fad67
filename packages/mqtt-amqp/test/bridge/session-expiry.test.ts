/**
 * What the bridge puts on the wire for MQTT 5 session expiry, seen by a recording AMQP peer (rhea used directly):
 * `x-opt-mqtt-session-expiry` on AMQP_LIST / AMQP_CLOSE for MQTT 5 clients only, and AMQP_SESSION_EXPIRY before
 * the publish link detaches when a DISCONNECT changes the interval.
 */
import { describe, expect, it } from 'vitest';
import { gatewayOnRecordingPeer } from './support/harness';
import { type DetachEvent, type MessageEvent, publishAddress } from './support/recording-peer';

const ANNOTATION = 'x-opt-mqtt-session-expiry';
const isSubject = (subject: string) => (e: { kind: string; subject?: string }) =>
  e.kind === 'message' && e.subject === subject;

describe('bridge: MQTT 5 session expiry on the wire', () => {
  const bridge = gatewayOnRecordingPeer();

  /** An MQTT 5 client keeping its session for `connectInterval` s that DISCONNECTs with `disconnectInterval`. */
  async function connectThenDisconnect(
    clientId: string,
    connectInterval: number,
    disconnectInterval: number,
  ): Promise<void> {
    const client = await bridge.gw.connect({
      clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: connectInterval },
    });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    await client.endAsync(false, { properties: { sessionExpiryInterval: disconnectInterval } });
  }

  it('3.1.1 sends the spec messages unchanged: AMQP_LIST / AMQP_CLOSE without the annotation', async () => {
    const kept = await bridge.gw.connect({ clientId: 'v4-kept', protocolVersion: 4, clean: false });
    const clean = await bridge.gw.connect({ clientId: 'v4-clean', protocolVersion: 4, clean: true });
    const list = bridge.peer.ofKind('message').find((e) => e.subject === 'list') as MessageEvent;
    const close = bridge.peer.ofKind('message').find((e) => e.subject === 'close') as MessageEvent;
    expect(list.message.message_annotations?.[ANNOTATION]).toBeUndefined();
    expect(close.message.message_annotations?.[ANNOTATION]).toBeUndefined();
    kept.end(true);
    clean.end(true);
  });

  it('MQTT 5 carries its interval on AMQP_LIST (clean start 0) and AMQP_CLOSE (clean start 1; 0 when absent)', async () => {
    const kept = await bridge.gw.connect({
      clientId: 'v5-kept',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    const brief = await bridge.gw.connect({ clientId: 'v5-brief', protocolVersion: 5, clean: false });
    const clean = await bridge.gw.connect({ clientId: 'v5-clean', protocolVersion: 5, clean: true });
    const messages = bridge.peer.ofKind('message');
    const of = (subject: string, clientId: string) =>
      messages.find((e) => e.subject === subject && e.message.correlation_id === publishAddress(clientId));
    expect(of('list', 'v5-kept')?.message.message_annotations?.[ANNOTATION]).toBe(60);
    expect(of('list', 'v5-brief')?.message.message_annotations?.[ANNOTATION]).toBe(0);
    expect(of('close', 'v5-clean')?.message.message_annotations?.[ANNOTATION]).toBe(0);
    for (const client of [kept, brief, clean]) client.end(true);
  });

  it('a DISCONNECT that changes the interval sends AMQP_SESSION_EXPIRY before the publish link detaches', async () => {
    const clientId = 'v5-changes';
    await connectThenDisconnect(clientId, 3_600, 5);
    const update = await bridge.peer.waitFor((e): e is MessageEvent => isSubject('session-expiry')(e));
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.address === publishAddress(clientId),
    );
    expect(update.address).toBe('$mqtt.subscriptionservice');
    expect(update.message.correlation_id).toBe(publishAddress(clientId));
    expect(update.message.message_annotations?.[ANNOTATION]).toBe(5);
    expect(update.seq).toBeLessThan(detach.seq);
  });

  it('sends no AMQP_SESSION_EXPIRY when the interval did not change', async () => {
    const clientId = 'v5-same';
    await connectThenDisconnect(clientId, 30, 30);
    await bridge.peer.waitFor((e) => e.kind === 'detach' && e.address === publishAddress(clientId));
    expect(bridge.peer.events.some(isSubject('session-expiry'))).toBe(false);
  });

  it('a service that refuses AMQP_SESSION_EXPIRY does not hold the disconnect up', async () => {
    bridge.peer.dispose = (event) =>
      event.subject === 'session-expiry' ? { reject: { condition: 'amqp:not-implemented' } } : 'accept';
    const clientId = 'v5-refused';
    await connectThenDisconnect(clientId, 3_600, 0);
    await bridge.peer.waitFor((e) => e.kind === 'detach' && e.address === publishAddress(clientId));
    expect(bridge.peer.events.some(isSubject('session-expiry'))).toBe(true);
  });
});
