/**
 * The `dragoman` command: arguments, environment and config file in; signals and exit codes out. Everything
 * else is `startGateway`.
 */
import { version } from '../package.json';
import { mergeSettings, parseCommandLine, readEnvironment } from './config/sources';
import { ConfigError } from './errors';
import { startGateway } from './gateway';
import { usage } from './help';
import { limitOldGenerationGrowth } from './old-generation';
import type { RunningGateway } from './types';
import { hashPassword } from './users';
import { limitYoungGeneration } from './young-generation';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;

function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`dragoman: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`dragoman: unexpected error: ${message}\n`);
  process.exit(EXIT_FAILURE);
}

async function main(argv: readonly string[]): Promise<void> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.help) {
    process.stdout.write(usage(version));
    return;
  }
  if (commandLine.version) {
    process.stdout.write(`${version}\n`);
    return;
  }
  const [command, ...rest] = commandLine.positionals;
  if (command === 'hash-password') {
    if (rest.length > 0)
      throw new ConfigError(`hash-password takes no arguments (it reads the password on stdin)`);
    const password = await readPassword();
    if (password === '') throw new ConfigError('hash-password: empty password');
    process.stdout.write(`${await hashPassword(password)}\n`);
    return;
  }
  if (command !== undefined) throw new ConfigError(`unknown command '${command}' (see dragoman --help)`);

  const settings = mergeSettings(commandLine, readEnvironment(process.env));
  const gateway = await startGateway(settings.options, { describe: settings.describe });
  const youngGeneration = limitYoungGeneration(gateway.config.maxSemiSpace);
  if (!youngGeneration.applied && youngGeneration.reason === 'node-option') {
    gateway.logger.info('--max-semi-space left alone: Node was started with --max-semi-space-size');
  }
  const oldGeneration = limitOldGenerationGrowth(gateway.config.heapGrowth);
  if (!oldGeneration.applied && oldGeneration.reason === 'node-option') {
    gateway.logger.info('--heap-growth left alone: Node was started with --heap-growing-percent');
  }
  announce(gateway);
  handleSignals(gateway);
}

/** One line per listener, for people starting it by hand. */
function announce(gateway: RunningGateway): void {
  const { addresses, logger } = gateway;
  if (addresses.mqtt !== undefined)
    logger.info({ url: addresses.mqtt.url }, `MQTT listening on ${addresses.mqtt.url}`);
  if (addresses.ws !== undefined)
    logger.info({ url: addresses.ws.url }, `MQTT over WebSocket listening on ${addresses.ws.url}`);
  if (addresses.amqp.embedded)
    logger.info({ url: addresses.amqp.url }, `embedded AMQP 1.0 backend listening on ${addresses.amqp.url}`);
  else logger.info({ url: addresses.amqp.url }, `using the AMQP 1.0 network at ${addresses.amqp.url}`);
  if (addresses.metrics !== undefined) {
    logger.info(
      { url: addresses.metrics.url },
      `metrics on ${addresses.metrics.url}, health on ${addresses.metrics.url.replace(/\/metrics$/, '/health')}`,
    );
  }
}

function handleSignals(gateway: RunningGateway): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      gateway.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    gateway.logger.info({ signal, deadlineMs: gateway.config.shutdownTimeout }, 'shutting down');
    gateway.close().then(
      (clean) => process.exit(clean ? EXIT_OK : EXIT_FAILURE),
      (error: unknown) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (error) => {
    gateway.logger.fatal({ err: error }, 'uncaught exception');
    process.exit(EXIT_FAILURE);
  });
}

/** The password from stdin: typed without echo on a terminal, else the whole input without its final newline. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY !== true) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  process.stderr.write('password: ');
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  let password = '';
  try {
    for await (const chunk of stdin) {
      for (const char of chunk as string) {
        if (char === '\r' || char === '\n') return password;
        if (char === '\u0003') throw new ConfigError('hash-password: cancelled');
        if (char === '\u007f' || char === '\b') password = password.slice(0, -1);
        else password += char;
      }
    }
    return password;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

main(process.argv.slice(2)).catch(fail);
