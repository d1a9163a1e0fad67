/**
 * The `dragoman --help` text, made from the option table.
 */
import { CONFIG_ENV, CONFIG_FLAG, OPTION_SPECS } from './config/options';

export function usage(version: string): string {
  const rows = OPTION_SPECS.map((spec) => [
    `--${spec.flag} ${spec.value}`,
    spec.help,
    `[${spec.env}; default ${spec.defaultText}]`,
  ]);
  rows.unshift([
    `-c, --${CONFIG_FLAG} FILE`,
    'JSON config file (keys: see docs/configuration.md)',
    `[${CONFIG_ENV}]`,
  ]);
  const width = Math.max(...rows.map((r) => r[0]?.length ?? 0)) + 2;
  const lines = rows.map(
    ([flag = '', help = '', extra = '']) => `  ${flag.padEnd(width)}${help}\n  ${''.padEnd(width)}  ${extra}`,
  );
  return `dragoman ${version} — MQTT 3.1.1/5.0 <-> AMQP 1.0 gateway

Usage:
  dragoman [options]            run the gateway (defaults: MQTT 127.0.0.1:1883, WebSocket 127.0.0.1:8083/mqtt,
                                embedded AMQP backend 127.0.0.1:5672)
  dragoman hash-password        read a password on stdin, print a users-file entry (scrypt)

Options (precedence: flags > DRAGOMAN_* environment variables > config file > defaults):
${lines.join('\n')}
${'  -h, --help'.padEnd(width + 2)}show this help
${'  -v, --version'.padEnd(width + 2)}print the version

Signals: SIGTERM / SIGINT stop accepting, send MQTT 5 clients DISCONNECT 0x8B, drain until --shutdown-timeout,
close AMQP and exit 0 (1 if the deadline forced connections closed; a second signal exits 1 at once).
Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration (one line on stderr).
`;
}
