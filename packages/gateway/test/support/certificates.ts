/**
 * Test certificates made with the openssl command at test time: a self-signed server certificate, and small
 * certificate authorities that issue server and client (device) certificates.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateFiles {
  /** PEM certificate file. */
  readonly cert: string;
  /** PEM private key file. */
  readonly key: string;
}

/** The server's names: every test listener is on 127.0.0.1. */
const SERVER_NAMES = 'subjectAltName=IP:127.0.0.1,DNS:localhost';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

function filesFor(dir: string, name: string): CertificateFiles {
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
}

/** A self-signed certificate `name` for `subject` with these `-addext` extensions, valid one day. */
function selfSigned(
  dir: string,
  name: string,
  subject: string,
  extensions: readonly string[],
): CertificateFiles {
  const files = filesFor(dir, name);
  const addExtensions = extensions.flatMap((extension) => ['-addext', extension]);
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-days',
    '1',
    '-subj',
    subject,
    ...addExtensions,
    '-keyout',
    files.key,
    '-out',
    files.cert,
  ]);
  return files;
}

/** A self-signed certificate for 127.0.0.1 / localhost, valid one day (its own CA). */
export function selfSignedServerCertificate(dir: string, name = 'server'): CertificateFiles {
  return selfSigned(dir, name, '/CN=localhost', [SERVER_NAMES]);
}

/** A certificate authority (self-signed, CA:TRUE) named `name`. */
export function certificateAuthority(dir: string, name: string): CertificateFiles {
  return selfSigned(dir, name, `/CN=${name}`, [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/**
 * A certificate signed by `ca` for `subject` (openssl form, `/O=Acme/CN=device-1`): a server certificate for
 * 127.0.0.1 / localhost, or a client certificate.
 */
export function issueCertificate(
  dir: string,
  ca: CertificateFiles,
  name: string,
  subject: string,
  usage: 'server' | 'client',
): CertificateFiles {
  const files = filesFor(dir, name);
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  writeFileSync(
    extensions,
    [
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(usage === 'server' ? [SERVER_NAMES] : []),
      '',
    ].join('\n'),
  );
  openssl(['req', '-new', ...EC_KEY, '-subj', subject, '-keyout', files.key, '-out', request]);
  openssl([
    'x509',
    '-req',
    '-in',
    request,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    extensions,
    '-out',
    files.cert,
  ]);
  return files;
}
