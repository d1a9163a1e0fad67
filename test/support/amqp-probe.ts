import rhea from 'rhea';

export interface AmqpProbeOptions {
  host?: string;
  port: number;
  /** SASL PLAIN credentials; without them the probe connects without SASL. */
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export interface AmqpOpenInfo {
  containerId: string;
  properties: Record<string, unknown>;
}

/**
 * One real AMQP 1.0 handshake (header, SASL, open) with rhea, then a clean close.
 * Resolves with what the peer said in its open frame; rejects if the peer refuses, drops or stays silent.
 */
export function probeAmqpOpen(options: AmqpProbeOptions): Promise<AmqpOpenInfo> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const container = rhea.create_container({ id: 'dragoman-readiness-probe' });
  return new Promise<AmqpOpenInfo>((resolve, reject) => {
    const connection = container.connect({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      username: options.username,
      password: options.password,
      reconnect: false,
      idle_time_out: 0,
    });
    const finish = (error: Error | undefined, info?: AmqpOpenInfo) => {
      clearTimeout(timer);
      connection.removeAllListeners();
      // A dropped probe socket must not surface as an unhandled 'error' later.
      connection.on('error', () => {});
      connection.on('disconnected', () => {});
      if (error) {
        connection.socket?.destroy();
        reject(error);
      } else if (info) {
        connection.close();
        resolve(info);
      }
    };
    const timer = setTimeout(() => finish(new Error(`no AMQP open within ${timeoutMs} ms`)), timeoutMs);
    connection.once('connection_open', () => {
      const open = connection.remote.open as { container_id?: unknown; properties?: unknown } | undefined;
      finish(undefined, {
        containerId: String(open?.container_id ?? ''),
        properties: (open?.properties as Record<string, unknown> | undefined) ?? {},
      });
    });
    connection.once('connection_error', () => {
      finish(new Error(`peer refused the connection: ${JSON.stringify(connection.error)}`));
    });
    connection.once('disconnected', (context: { error?: Error }) => {
      finish(new Error(`disconnected before open: ${context.error?.message ?? 'no error'}`));
    });
  });
}
