// The AMQP peer of publish.bench.ts, in its own process: a bare rhea listener that grants credit in a
// window and accepts every message. Sends its port to the parent.
import rhea from 'rhea';

const container = rhea.create_container({ id: 'bench-peer' });
const server = container.listen({ host: '127.0.0.1', port: 0, receiver_options: { credit_window: 1000 } });
container.on('message', () => undefined);
container.on('error', () => undefined);
server.on('listening', () => process.send?.({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
