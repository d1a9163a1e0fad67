import { InvalidDeviceIdError } from './errors';

/** Longest device id accepted, in characters. */
export const MAX_DEVICE_ID_LENGTH = 128;

// Device ids become part of AMQP addresses (`telemetry/<id>`): no '/', no wildcards, no spaces.
const DEVICE_ID = /^[A-Za-z0-9._:-]+$/;

/** True when `deviceId` is 1–128 characters of `[A-Za-z0-9._:-]`. */
export function isValidDeviceId(deviceId: string): boolean {
  return (
    typeof deviceId === 'string' &&
    deviceId.length > 0 &&
    deviceId.length <= MAX_DEVICE_ID_LENGTH &&
    DEVICE_ID.test(deviceId)
  );
}

/** Throws `InvalidDeviceIdError` saying what is wrong with `deviceId`. */
export function validateDeviceId(deviceId: string): void {
  if (typeof deviceId !== 'string') throw new InvalidDeviceIdError(String(deviceId), 'not a string');
  if (deviceId.length === 0) throw new InvalidDeviceIdError(deviceId, 'empty');
  if (deviceId.length > MAX_DEVICE_ID_LENGTH) {
    throw new InvalidDeviceIdError(deviceId, `longer than ${MAX_DEVICE_ID_LENGTH} characters`);
  }
  if (!DEVICE_ID.test(deviceId)) {
    throw new InvalidDeviceIdError(deviceId, 'only letters, digits and . _ : - are allowed');
  }
}
