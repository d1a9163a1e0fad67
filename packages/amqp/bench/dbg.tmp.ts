import { connect, listen } from '../src/index';

const listener = await listen();
listener.on('connection', (c) =>
  c.on('incomingLink', (l) => {
    console.error('incoming');
    l.refuse({ condition: 'amqp:not-found' });
    console.error('refused');
  }),
);
const client = await connect(listener.url, { reconnect: false });
console.error('connected');
await client.openSender('q').then(
  () => console.error('opened?'),
  (e) => console.error('rejected', e.message),
);
await client.close();
await listener.close();
