// The far end of the relay benchmark, in a process of its own so that the relay's CPU time can be measured
// apart: a rhea listener that offers `count` messages on `in-<run>`, accepts everything arriving on
// `out-<run>`, and reports when the source has seen every outcome. Plain JavaScript: no loader needed.
import rhea from 'rhea';

const parent = {
  postMessage: (message) => process.send?.(message),
  on: (event, listener) => process.on(event, listener),
};

const PAYLOAD = Buffer.alloc(100, 0x61);
const container = rhea.create_container({
  id: 'bench-peer',
  receiver_options: { credit_window: 1000, autoaccept: true },
});
const runs = new Map();

container.on('sender_open', (context) => {
  const link = context.sender;
  const address = link.remote.attach?.source?.address ?? '';
  if (link.remote.attach?.source) link.set_source(link.remote.attach.source);
  const run = runs.get(address);
  if (run === undefined) return;
  const body = rhea.message.data_section(PAYLOAD);
  const pump = () => {
    while (run.sent < run.count && link.credit - (run.sent - link.delivery_count) > 0) {
      link.send({ body });
      run.sent += 1;
    }
  };
  link.on('sendable', pump);
  link.on('accepted', () => {
    run.settled += 1;
    if (run.settled === run.count) {
      parent.postMessage({ done: run.id });
      link.close();
    }
  });
  pump();
});
container.on('receiver_open', (context) => {
  const link = context.receiver;
  if (link.remote.attach?.target) link.set_target(link.remote.attach.target);
});
container.on('message', () => undefined);
container.on('disconnected', () => undefined);
container.on('error', () => undefined);

parent.on('message', (message) => {
  if (message.run !== undefined) {
    runs.set(`in-${message.run}`, { id: message.run, count: message.count, sent: 0, settled: 0 });
    parent.postMessage({ ready: message.run });
  } else if (message.stop) {
    server.close();
    process.exit(0);
  }
});

const server = container.listen({ port: 0, host: '127.0.0.1' });
server.on('listening', () => parent.postMessage({ port: server.address().port }));
