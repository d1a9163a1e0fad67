// A plain aedes broker on 127.0.0.1:<port> (argv[2]), as a user would run it: default options, in-memory
// persistence. Plain JavaScript so the measured RSS is aedes's, not a TypeScript loader's.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1', () => console.log(`aedes listening on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close();
    broker.close(() => process.exit(0));
  });
}
