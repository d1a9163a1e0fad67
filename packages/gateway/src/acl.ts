/**
 * The ACL file of `--acl`: read and checked at start (a bad line is a `ConfigError` naming the file and the
 * line), then asked by the bridge for every PUBLISH and SUBSCRIBE (format: @dragoman/mqtt-amqp README,
 * "Authorization").
 */
import { readFileSync } from 'node:fs';
import { AclSyntaxError, type Authorizer, aclAuthorizer, parseAcl } from '@dragoman/mqtt-amqp';
import { ConfigError, errorCode } from './errors';

export function loadAcl(path: string, name = 'acl'): Authorizer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${name} ${path}: cannot read the file (${errorCode(error)})`, {
      option: name,
      cause: error,
    });
  }
  try {
    return aclAuthorizer(parseAcl(text));
  } catch (error) {
    if (error instanceof AclSyntaxError) {
      throw new ConfigError(`${name} ${path}: ${error.message}`, { option: name, cause: error });
    }
    throw error;
  }
}
