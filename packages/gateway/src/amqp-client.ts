/**
 * How the gateway's own AMQP connections reach an external network: its URL, the CAs it trusts (`amqpCa`) and,
 * with `amqpCert`/`amqpKey`, its client certificate — it then authenticates with SASL EXTERNAL (the network
 * takes its identity from the certificate).
 */
import type { ConnectOptions } from '@dragoman/amqp';
import type { TlsMaterial } from './tls-files';

export function externalConnectOptions(
  url: string,
  ca: Buffer | undefined,
  client: TlsMaterial | undefined,
): ConnectOptions {
  const tls = {
    ...(ca !== undefined ? { ca } : {}),
    ...(client !== undefined ? { cert: client.cert, key: client.key } : {}),
  };
  return {
    url,
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...(client !== undefined ? { sasl: { mechanism: 'EXTERNAL' as const } } : {}),
  };
}
