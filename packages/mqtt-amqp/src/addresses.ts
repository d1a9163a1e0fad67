import { ConfigurationError } from './errors';
import type { Addresses, AddressOptions, ClientAddressKind } from './types';

/** The placeholder a per-client address template carries exactly once. */
export const CLIENT_ID_PLACEHOLDER = '{clientId}';

/** The spec's well-known addresses (EnMasse's own gateway used `$lwt` and `$subctrl` for the two services). */
export const DEFAULT_ADDRESS_OPTIONS: Readonly<Required<AddressOptions>> = Object.freeze({
  willService: '$mqtt.willservice',
  subscriptionService: '$mqtt.subscriptionservice',
  clientControl: '$mqtt.to.{clientId}.control',
  clientPublish: '$mqtt.to.{clientId}.publish',
  clientPubrel: '$mqtt.{clientId}.pubrel',
});

interface Template {
  readonly prefix: string;
  readonly suffix: string;
}

function parseTemplate(option: string, template: string): Template {
  const at = template.indexOf(CLIENT_ID_PLACEHOLDER);
  if (at === -1 || template.indexOf(CLIENT_ID_PLACEHOLDER, at + 1) !== -1) {
    throw new ConfigurationError(
      option,
      `${option} must contain ${CLIENT_ID_PLACEHOLDER} exactly once: '${template}'`,
    );
  }
  return { prefix: template.slice(0, at), suffix: template.slice(at + CLIENT_ID_PLACEHOLDER.length) };
}

function requireAddress(option: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(option, `${option} must be a non-empty string`);
  }
  return value;
}

/**
 * The addresses of the spec, with any of them overridden. Throws `ConfigurationError` for an empty address or a
 * per-client template without exactly one `{clientId}`.
 */
export function createAddresses(options: AddressOptions = {}): Addresses {
  const merged = { ...DEFAULT_ADDRESS_OPTIONS, ...stripUndefined(options) };
  const willService = requireAddress('willService', merged.willService);
  const subscriptionService = requireAddress('subscriptionService', merged.subscriptionService);
  const templates: Record<ClientAddressKind, Template> = {
    control: parseTemplate('clientControl', merged.clientControl),
    publish: parseTemplate('clientPublish', merged.clientPublish),
    pubrel: parseTemplate('clientPubrel', merged.clientPubrel),
  };
  const fill = (kind: ClientAddressKind, clientId: string): string => {
    const t = templates[kind];
    return `${t.prefix}${clientId}${t.suffix}`;
  };
  return Object.freeze({
    willService,
    subscriptionService,
    options: Object.freeze({ ...merged }),
    control: (clientId: string) => fill('control', clientId),
    publish: (clientId: string) => fill('publish', clientId),
    pubrel: (clientId: string) => fill('pubrel', clientId),
    clientIdFrom(kind: ClientAddressKind, address: string): string | undefined {
      const t = templates[kind];
      if (address.length < t.prefix.length + t.suffix.length) return undefined;
      if (!address.startsWith(t.prefix) || !address.endsWith(t.suffix)) return undefined;
      return address.slice(t.prefix.length, address.length - t.suffix.length);
    },
  });
}

function stripUndefined(options: AddressOptions): AddressOptions {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) out[key] = value as string;
  }
  return out;
}
