/**
 * Device certificates on the MQTT TLS and secure WebSocket listeners: what the TLS server is told (ask for a
 * certificate, trust `clientCa`, refuse or not without one) and what a verified certificate says about its
 * client (the identity `certIdentity` takes from it).
 */
import type { TLSSocket } from 'node:tls';
import type { CertIdentityMode, ClientCertificate } from './types';

/** A verified certificate, or one verified but without what `certIdentity` needs (a subject CN). */
export type PeerCertificate =
  | { readonly kind: 'identified'; readonly certificate: ClientCertificate }
  | { readonly kind: 'unusable'; readonly subject: string; readonly why: string };

/** Client-certificate settings of a TLS listener. */
export interface ClientAuthTls {
  /** PEM CAs that sign device certificates. */
  readonly ca: Buffer;
  /** true: no valid certificate fails the handshake; false: it is asked for, and optional. */
  readonly require: boolean;
  readonly identity: CertIdentityMode;
}

/** Options for `tls.createServer` / `https.createServer` on top of the listener's own certificate. */
export function clientAuthServerOptions(
  auth: ClientAuthTls | undefined,
): { ca: Buffer; requestCert: true; rejectUnauthorized: boolean } | Record<string, never> {
  return auth === undefined ? {} : { ca: auth.ca, requestCert: true, rejectUnauthorized: auth.require };
}

/**
 * The certificate a TLS client presented, if the handshake verified it against the CAs (an unverified one,
 * accepted because certificates are only requested, counts as none).
 */
export function peerCertificate(socket: TLSSocket, mode: CertIdentityMode): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  // Node prints the subject one RFC 2253-escaped attribute per line, least specific first.
  const subject = x509.subject
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .join(',');
  let identity: string | undefined = subject;
  if (mode === 'cn') {
    const cn: unknown = socket.getPeerCertificate().subject?.CN;
    identity = Array.isArray(cn) ? cn.at(-1) : typeof cn === 'string' ? cn : undefined;
  }
  if (identity === undefined || identity === '') {
    return { kind: 'unusable', subject, why: 'the certificate has no subject common name (CN)' };
  }
  return { kind: 'identified', certificate: { identity, subject, fingerprint256: x509.fingerprint256 } };
}
