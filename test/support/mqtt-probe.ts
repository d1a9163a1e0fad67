import { connect } from 'node:net';

export interface MqttProbeOptions {
  host?: string;
  port: number;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

function utf8Field(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An MQTT 3.1.1 CONNECT packet with a clean session and a 30 s keep-alive. */
function connectPacket(clientId: string, username?: string, password?: string): Buffer {
  let flags = 0x02; // clean session
  const payload = [utf8Field(clientId)];
  if (username !== undefined) {
    flags |= 0x80;
    payload.push(utf8Field(username));
  }
  if (password !== undefined) {
    flags |= 0x40;
    payload.push(utf8Field(password));
  }
  const variableHeader = Buffer.concat([utf8Field('MQTT'), Buffer.from([0x04, flags, 0x00, 30])]);
  const body = Buffer.concat([variableHeader, ...payload]);
  if (body.length > 127) throw new Error('probe CONNECT too long for a one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/**
 * One real MQTT 3.1.1 handshake: CONNECT, expect CONNACK with return code 0, DISCONNECT.
 * Written by hand so that the test support does not depend on the code under test.
 */
export function probeMqttConnect(options: MqttProbeOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port: options.port });
    let received = Buffer.alloc(0);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        socket.end(Buffer.from([0xe0, 0x00]));
        resolve();
      }
    };
    const timer = setTimeout(() => finish(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      socket.write(connectPacket(`dragoman-probe-${process.pid}`, options.username, options.password));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      if (received[0] !== 0x20)
        return finish(new Error(`expected CONNACK, got packet type 0x${received[0]?.toString(16)}`));
      const returnCode = received[3];
      finish(returnCode === 0 ? undefined : new Error(`CONNACK return code ${returnCode}`));
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error('connection closed before CONNACK')));
  });
}
