/**
 * The set-up of the AMQP-outage tests: the embedded backend in this process on a durable LMDB store, a
 * cuttable proxy in front of it, and the full gateway (`startGateway`) using the proxy as its external AMQP
 * network (`amqp: amqp://127.0.0.1:<proxy>`), so that cutting the proxy makes the gateway's AMQP network
 * disappear while the backend keeps all its state. AMQP peers that must stay connected (the test's own rhea
 * clients) talk to the backend directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGateway, startGateway } from '@dragoman/gateway';
import { type Backend, createBackend, openLmdbStores } from '@dragoman/mqtt-amqp';
import { type CuttableProxy, startCuttableProxy } from './cuttable-proxy';

export interface FaultStack {
  readonly backend: Backend;
  readonly backendPort: number;
  readonly proxy: CuttableProxy;
  readonly gateway: RunningGateway;
  readonly mqttUrl: string;
  close(): Promise<void>;
}

export async function startFaultStack(): Promise<FaultStack> {
  const dir = mkdtempSync(join(tmpdir(), 'dragoman-faults-'));
  const stores = openLmdbStores({ path: dir });
  const backend = await createBackend({ store: stores });
  const backendPort = Number(new URL(backend.url).port);
  const proxy = await startCuttableProxy({ host: '127.0.0.1', port: backendPort });
  const gateway = await startGateway({
    mqtt: '127.0.0.1:0',
    ws: 'off',
    amqp: proxy.url('amqp'),
    logLevel: 'silent',
  });
  const mqttUrl = gateway.addresses.mqtt?.url;
  if (mqttUrl === undefined) throw new Error('the gateway has no MQTT listener');
  return {
    backend,
    backendPort,
    proxy,
    gateway,
    mqttUrl,
    async close() {
      await gateway.close(5_000);
      await proxy.close();
      await backend.close();
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
