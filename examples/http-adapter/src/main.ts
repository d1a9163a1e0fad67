// The HTTP adapter as a program: devices POST telemetry and long-poll commands; the AMQP side is any AMQP 1.0
// peer (a broker, a router, or `dragoman`'s embedded backend).
//
//   AMQP_URL=amqp://127.0.0.1:5672 PORT=8080 npm start -w examples/http-adapter
//   curl -i -H 'content-type: application/json' -d '{"celsius":21.5}' http://127.0.0.1:8080/telemetry/sensor-1
//   curl -i 'http://127.0.0.1:8080/commands/sensor-1?wait=10'
import { runAdapters } from '@dragoman/adapter';
import { createHttpAdapter } from './http-adapter';

const adapter = createHttpAdapter({ port: Number(process.env.PORT ?? 8080) });
const host = await runAdapters({ amqp: { url: process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672' } }, [adapter]);
host.on('failure', (name, error) => {
  console.error(`${name} failed: ${error.message}`);
  void host.stop(5_000);
});
console.log(`listening on ${adapter.url}`);

const shutdown = async (): Promise<void> => {
  const report = await host.stop(5_000);
  console.log(`stopped: ${report.adapters.map((a) => `${a.name} ${a.state}`).join(', ')}`);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
