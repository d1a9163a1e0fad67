// The maximum temperature per window, from one AMQP address to another.
//
//   AMQP_URL=amqp://127.0.0.1:5672 INPUT=telemetry/temperature OUTPUT=telemetry/temperature-max \
//   WINDOW_MS=5000 npm start -w examples/reactive-telemetry
import { connect } from '@dragoman/amqp';
import { runTelemetry } from './telemetry';

const url = process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672';
const input = process.env.INPUT ?? 'telemetry/temperature';
const output = process.env.OUTPUT ?? 'telemetry/temperature-max';
const windowMs = Number(process.env.WINDOW_MS ?? 5_000);

const connection = await connect({ url });
const telemetry = runTelemetry(connection, { input, output, windowMs });
console.log(`reading ${input}, sending the maximum of every ${windowMs} ms window to ${output}`);

const shutdown = (): void => telemetry.stop();
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

const summary = await telemetry.done;
console.log(`stopped (${summary.end}): ${summary.counts.accepted} maxima accepted`);
await connection.close();
