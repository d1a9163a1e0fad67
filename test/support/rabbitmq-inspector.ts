import { randomBytes } from 'node:crypto';
import { ManagedProcess } from './managed-process';
import { findOnPath } from './peers';
import { withTimeout } from './wait';

export interface QueueInfo {
  name: string;
  durable: boolean;
  /** Ready plus unacknowledged. */
  messages: number;
  messagesReady: number;
  /** Delivered to a consumer and not yet settled. */
  messagesUnacknowledged: number;
}

/**
 * The Erlang side of the inspector: a hidden node that answers each line on stdin with the queues of vhost
 * '/' (one tab-separated line per queue, then "end"), asking the broker over distribution (rpc).
 */
const INSPECTOR_LOOP = `
Node = list_to_atom(os:getenv("DRAGOMAN_RABBITMQ_NODE")),
Keys = [name, durable, messages, messages_ready, messages_unacknowledged],
Field = fun(Key, Row) -> proplists:get_value(Key, Row) end,
Loop = fun Loop() ->
  case io:get_line("") of
    eof -> halt(0);
    _ ->
      Out = case rpc:call(Node, rabbit_amqqueue, info_all, [<<"/">>, Keys], 60000) of
        {badrpc, Reason} -> io_lib:format("error\\t~0tp~n", [Reason]);
        Rows -> [io_lib:format("queue\\t~ts\\t~tp\\t~tp\\t~tp\\t~tp~n",
                   [element(4, Field(name, R)), Field(durable, R), Field(messages, R),
                    Field(messages_ready, R), Field(messages_unacknowledged, R)]) || R <- Rows]
      end,
      io:put_chars([Out, "end\\n"]),
      Loop()
  end
end,
Loop().
`;

function toCount(value: string | undefined): number {
  const count = Number(value);
  return Number.isFinite(count) ? count : 0;
}

/**
 * Reads a RabbitMQ node's queue counters through one long-lived hidden Erlang node, so that each query costs
 * a distribution round trip instead of a rabbitmqctl start (which takes tens of seconds on a loaded machine).
 */
export class RabbitMqInspector {
  readonly #process: ManagedProcess;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(process: ManagedProcess) {
    this.#process = process;
  }

  /** `env` must carry the node's HOME (cookie) and ERL_EPMD_PORT. */
  static async start(nodeName: string, env: NodeJS.ProcessEnv, cwd: string): Promise<RabbitMqInspector> {
    const erl = findOnPath('erl');
    if (erl === undefined) throw new Error('erl not found on PATH');
    const name = `dragoman-inspect-${randomBytes(4).toString('hex')}@localhost`;
    const process = await ManagedProcess.start(
      erl,
      [
        '-noshell',
        '-hidden',
        '-sname',
        name,
        '-start_epmd',
        'false',
        '-kernel',
        'inet_dist_use_interface',
        '{127,0,0,1}',
        '-eval',
        INSPECTOR_LOOP,
      ],
      {
        name: `rabbitmq inspector ${name}`,
        env: { ...env, DRAGOMAN_RABBITMQ_NODE: nodeName },
        cwd,
        stdin: true,
      },
    );
    return new RabbitMqInspector(process);
  }

  /** The queues of vhost '/'; one query at a time. */
  listQueues(timeoutMs = 90_000): Promise<QueueInfo[]> {
    const next = this.#queue.then(() => this.#query(timeoutMs));
    this.#queue = next.catch(() => {});
    return next;
  }

  async stop(): Promise<void> {
    await this.#process.stop({ timeoutMs: 5_000 });
  }

  #query(timeoutMs: number): Promise<QueueInfo[]> {
    const inspector = this.#process;
    if (inspector.hasExited) {
      return Promise.reject(new Error(`RabbitMQ inspector exited:\n${inspector.outputTail()}`));
    }
    const rows: QueueInfo[] = [];
    let onLine: ((line: string) => void) | undefined;
    let onExit: (() => void) | undefined;
    const answer = new Promise<QueueInfo[]>((resolve, reject) => {
      onLine = (line: string) => {
        const [kind, name, durable, messages, ready, unacked] = line.split('\t');
        if (kind === 'queue' && name !== undefined) {
          rows.push({
            name,
            durable: durable === 'true',
            messages: toCount(messages),
            messagesReady: toCount(ready),
            messagesUnacknowledged: toCount(unacked),
          });
        } else if (kind === 'error') {
          reject(new Error(`RabbitMQ inspector: ${name}`));
        } else if (kind === 'end') {
          resolve(rows);
        }
      };
      onExit = () => reject(new Error(`RabbitMQ inspector exited:\n${inspector.outputTail()}`));
      inspector.on('line', onLine);
      inspector.once('exit', onExit);
    });
    inspector.write('list\n');
    return withTimeout(answer, timeoutMs, 'queue counters from the RabbitMQ inspector').finally(() => {
      if (onLine) inspector.removeListener('line', onLine);
      if (onExit) inspector.removeListener('exit', onExit);
    });
  }
}
