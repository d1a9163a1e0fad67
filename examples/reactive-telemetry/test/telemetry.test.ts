import { EventEmitter, once } from 'node:events';
import {
  type AmqpConnection,
  type AmqpListener,
  connect,
  type Delivery,
  listen,
  type Sender,
  valueMessage,
} from '@dragoman/amqp';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTelemetry, type WindowMaximum } from '../src/telemetry';

/** Waits for `event` on `emitter`, failing after 10 s. */
function next<T>(emitter: EventEmitter, event: string): Promise<T> {
  return once(emitter, event, { signal: AbortSignal.timeout(10_000) }).then(([value]) => value as T);
}

describe('reactive-telemetry against the listen() peer', () => {
  let listener: AmqpListener;
  let app: AmqpConnection;
  /** The peer's end of the app's input link: the test sends readings on it. */
  let readings: Promise<Sender>;
  /** The peer's view of the app's output link: every maximum it received. */
  let maxima: { deliveries: Delivery[]; events: EventEmitter };

  beforeEach(async () => {
    listener = await listen();
    maxima = { deliveries: [], events: new EventEmitter() };
    readings = new Promise((resolve) => {
      listener.on('connection', (inbound) => {
        inbound.on('incomingLink', (link) => {
          if (link.role === 'sender' && link.address === 'temperature') resolve(link.acceptSender());
          else if (link.role === 'receiver' && link.address === 'temperature-max') {
            const receiver = link.acceptReceiver({ creditWindow: 10 });
            receiver.on('delivery', (delivery) => {
              maxima.deliveries.push(delivery);
              delivery.accept();
              maxima.events.emit('maximum', parse(delivery));
            });
          } else link.refuse();
        });
      });
    });
    app = await connect({ url: listener.url, reconnect: false });
  });

  afterEach(async () => {
    await app.close();
    await listener.close();
  });

  function parse(delivery: Delivery): WindowMaximum {
    const body = delivery.message.body;
    return JSON.parse(body?.type === 'value' ? String(body.value) : '{}') as WindowMaximum;
  }

  it('sends the maximum of each window, and acknowledges readings only once it was accepted', async () => {
    const windows = new Subject<void>();
    const taken: number[] = [];
    const seen = new EventEmitter();
    const telemetry = runTelemetry(app, {
      input: 'temperature',
      output: 'temperature-max',
      windows,
      onReading: (celsius) => {
        taken.push(celsius);
        seen.emit('reading');
      },
    });
    const sender = await readings;

    const first = [20.5, 23.25, 21].map((celsius) => sender.send(valueMessage(celsius)));
    const garbage = sender.send(valueMessage('not a number'));
    expect(await garbage).toMatchObject({ state: 'rejected', error: { condition: 'amqp:decode-error' } });
    while (taken.length < 3) await next(seen, 'reading');
    const firstMaximum = next<WindowMaximum>(maxima.events, 'maximum');
    windows.next(); // close the first window
    expect(await firstMaximum).toMatchObject({ maxCelsius: 23.25, readings: 3 });
    // The readings were accepted end to end: only after the maximum had been accepted downstream.
    expect(await Promise.all(first)).toEqual([
      { state: 'accepted' },
      { state: 'accepted' },
      { state: 'accepted' },
    ]);

    windows.next(); // an empty window sends nothing
    const second = [{ celsius: 18.5 }, { celsius: 19 }].map((reading) =>
      sender.send(valueMessage(JSON.stringify(reading))),
    );
    while (taken.length < 5) await next(seen, 'reading');
    const secondMaximum = next<WindowMaximum>(maxima.events, 'maximum');
    windows.next();
    expect(await secondMaximum).toMatchObject({ maxCelsius: 19, readings: 2 });
    await Promise.all(second);
    expect(maxima.deliveries).toHaveLength(2);

    telemetry.stop();
    const summary = await telemetry.done;
    expect(summary.end).toBe('completed');
    expect(summary.counts.accepted).toBe(2);
  });

  it('stopping sends the maximum of the open window first', async () => {
    const seen = new EventEmitter();
    const telemetry = runTelemetry(app, {
      input: 'temperature',
      output: 'temperature-max',
      windows: new Subject<void>(), // never closes by itself
      onReading: () => seen.emit('reading'),
    });
    const sender = await readings;
    const taken = next(seen, 'reading');
    const sent = sender.send(valueMessage(30));
    const maximum = next<WindowMaximum>(maxima.events, 'maximum');
    await taken; // the reading is in the open window
    telemetry.stop();
    expect(await maximum).toMatchObject({ maxCelsius: 30, readings: 1 });
    expect(await sent).toEqual({ state: 'accepted' });
    expect((await telemetry.done).end).toBe('completed');
  });
});
