// @dragoman/adapter — the contract between a device-protocol front end and the AMQP side: lifecycle, context,
// device sessions (publish with QoS and outcome, commands with credit), and a host that runs adapters.

export { createHostContext, HostContext, type HostContextOptions } from './context';
export { isValidDeviceId, MAX_DEVICE_ID_LENGTH, validateDeviceId } from './device-id';
export {
  createDeviceSession,
  DEFAULT_CREDIT_TIMEOUT_MS,
  DEFAULT_DEVICE_ADDRESSES,
  DEFAULT_MAX_COMMAND_RECEIVERS,
  DEFAULT_MAX_LINKS,
  DEFAULT_MAX_QUEUED_PER_LINK,
  DEFAULT_OUTCOME_TIMEOUT_MS,
  DEFAULT_RECEIVE_COMMAND_TIMEOUT_MS,
  DeviceSession,
} from './device-session';
export {
  AdapterStartError,
  AdapterStateError,
  AdapterTimeoutError,
  CommandLimitError,
  InvalidDeviceIdError,
  NoCreditError,
  type NoCreditReason,
  PublishTimeoutError,
  SessionClosedError,
} from './errors';
export {
  AdapterHost,
  type AdapterHostEvents,
  type AdapterHostState,
  type AdapterStopResult,
  type AdapterStopState,
  DEFAULT_ABORT_GRACE_MS,
  DEFAULT_START_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  type RunAdaptersOptions,
  runAdapters,
  type StopReport,
} from './host';
export { noopLogger } from './logger';
export { noopMetrics } from './metrics';
export type * from './types';
