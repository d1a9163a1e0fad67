// An authentication module for `dragoman --auth-module packages/gateway/examples/hmac-auth.mjs`.
//
// MQTT 5 enhanced authentication, method `dragoman-hmac-sha256`: a challenge/response over a secret key each
// device shares with the gateway (NOT the users file: its scrypt hashes cannot answer a challenge).
//
//   CONNECT  authentication method `dragoman-hmac-sha256`, data = the device name (UTF-8)
//   AUTH 0x18 from the gateway: data = a fresh 32-byte nonce
//   AUTH 0x18 from the device:  data = HMAC-SHA256(key, nonce || device name)
//   CONNACK 0x00: the device name is the client's identity (what --acl's %u and tenants see);
//   CONNACK 0x87 for a wrong answer (also for an unknown device, after the same two steps).
//
// Keys: a JSON file `{ "<device name>": "<key, base64, at least 16 bytes>" }` named by the environment
// variable DRAGOMAN_HMAC_KEYS, read when the gateway loads the module. Make a key with
// `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const METHOD = 'dragoman-hmac-sha256';

function loadKeys() {
  const path = process.env.DRAGOMAN_HMAC_KEYS;
  if (path === undefined || path === '')
    throw new Error('set DRAGOMAN_HMAC_KEYS to the JSON file of device keys');
  const keys = new Map();
  for (const [device, text] of Object.entries(JSON.parse(readFileSync(path, 'utf8')))) {
    const key = Buffer.from(String(text), 'base64');
    if (key.length < 16) throw new Error(`${path}: the key of '${device}' is shorter than 16 bytes`);
    keys.set(device, key);
  }
  return keys;
}

const keys = loadKeys();
// Answers for devices without a key are checked against this one, so both take the same steps and time.
const decoy = randomBytes(32);

/** What the device must answer to `nonce`. */
export function answer(key, nonce, device) {
  return createHmac('sha256', key).update(nonce).update(device, 'utf8').digest();
}

/** @type {import('@dragoman/gateway').AuthenticationMethod} */
function hmacChallenge(step) {
  if (step.step === 0) {
    const device = step.data?.toString('utf8') ?? '';
    if (device === '') return { result: 'failure', reasonCode: 0x87, reasonString: 'no device name' };
    const nonce = randomBytes(32);
    step.state.set('device', device);
    step.state.set('nonce', nonce);
    return { result: 'continue', data: nonce };
  }
  const device = step.state.get('device');
  const expected = answer(keys.get(device) ?? decoy, step.state.get('nonce'), device);
  const given = step.data ?? Buffer.alloc(0);
  const right = given.length === expected.length && timingSafeEqual(given, expected) && keys.has(device);
  return right
    ? { result: 'success', identity: device }
    : { result: 'failure', reasonCode: 0x87, reasonString: 'wrong answer to the challenge' };
}

/** @type {import('@dragoman/gateway').AuthenticationHook} */
export default {
  methods: { [METHOD]: hmacChallenge },
};
