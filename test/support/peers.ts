import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

/** Where the Debian packages put the external peers the interop suites run against. */
export const PEER_PATHS = {
  rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server',
  rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl',
  /** Debian's python3 (has python3-qpid-proton); the `python3` on PATH may be another interpreter without it. */
  python: '/usr/bin/python3',
  protonBroker: '/usr/share/proton/examples/python/broker.py',
} as const;

export interface PeerCheck {
  available: boolean;
  /** Why it is missing, with the package that provides it. */
  reason: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds `command` on PATH like the shell would. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

const missing = (reason: string): PeerCheck => ({ available: false, reason });
const present: PeerCheck = { available: true, reason: '' };

export function checkRabbitMq(): PeerCheck {
  if (!isExecutable(PEER_PATHS.rabbitmqServer)) {
    return missing(`${PEER_PATHS.rabbitmqServer} not found (install the Debian package rabbitmq-server)`);
  }
  if (findOnPath('epmd') === undefined || findOnPath('erl') === undefined) {
    return missing('erl/epmd not on PATH (install erlang-base, a dependency of rabbitmq-server)');
  }
  return present;
}

export function checkProton(): PeerCheck {
  if (!isExecutable(PEER_PATHS.python)) return missing(`${PEER_PATHS.python} not found`);
  const probe = spawnSync(PEER_PATHS.python, ['-c', 'import proton, proton.reactor, proton.handlers'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (probe.status !== 0) {
    return missing(
      `${PEER_PATHS.python} cannot import proton (install python3-qpid-proton): ${probe.stderr.trim()}`,
    );
  }
  if (!isReadable(PEER_PATHS.protonBroker)) {
    return missing(`${PEER_PATHS.protonBroker} not found (install libqpid-proton11-dev-examples)`);
  }
  return present;
}

/** CI must not pass silently without its peers: there a missing peer fails the run instead of skipping. */
export function isCi(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * `describe` that runs only when `check` finds the external peer. Without it the suite is skipped
 * with a printed reason, except on CI, where it turns into one failing test that states the reason.
 */
export function describeWithPeer(check: PeerCheck, title: string, body: () => void): void {
  if (check.available) {
    describe(title, body);
    return;
  }
  if (isCi()) {
    describe(title, () => {
      it('has its external peer installed (required on CI)', () => {
        throw new Error(`interop peer missing on CI: ${check.reason}`);
      });
    });
    return;
  }
  console.warn(`[interop] skipping "${title}": ${check.reason}`);
  // Skipped on purpose: the external peer is not installed on this machine (see the warning above).
  describe.skip(title, body);
}
