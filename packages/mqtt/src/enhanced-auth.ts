/**
 * MQTT 5 enhanced authentication (specification section 4.12): one exchange of AUTH packets, begun by a
 * CONNECT with an authentication method or by the client's AUTH 0x19 after CONNACK, each step decided by
 * the host's `authenticate` hook. The endpoint writes the packets; this holds the exchange's state.
 */
import type { MqttEndpoint } from './endpoint';
import { ReasonCode } from './reason-codes';
import type { AuthenticateHook, AuthenticationOutcome, AuthenticationStep, UserProperties } from './types';

/** What the exchange reports back to its endpoint. */
export interface AuthExchangeOwner {
  readonly endpoint: MqttEndpoint;
  readonly hook: AuthenticateHook;
  /** The hook answered (a thrown error or a malformed answer arrives as a failure). Not called once aborted. */
  outcome(exchange: AuthExchange, outcome: AuthenticationOutcome): void;
}

export class AuthExchange {
  /** True between an AUTH 0x18 the server sent and the client's AUTH 0x18 answering it. */
  awaitingClient = false;
  private readonly state = new Map<string, unknown>();
  private readonly controller = new AbortController();
  private step = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly kind: AuthenticationStep['kind'],
    readonly method: string,
    private readonly owner: AuthExchangeOwner,
  ) {}

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Bounds the whole exchange; `onExpired` runs if it has not ended by then. */
  limit(timeoutMs: number, onExpired: () => void): void {
    this.timer = setTimeout(onExpired, timeoutMs);
    this.timer.unref();
  }

  /** Asks the hook about the client's packet of this step (CONNECT, AUTH 0x19, then each AUTH 0x18). */
  run(data: Buffer | undefined, userProperties: UserProperties | undefined): void {
    this.awaitingClient = false;
    const step: AuthenticationStep = {
      kind: this.kind,
      method: this.method,
      data,
      step: this.step++,
      state: this.state,
      userProperties,
      endpoint: this.owner.endpoint,
      signal: this.controller.signal,
    };
    // Always asynchronous, so a hook that answers at once still finds the endpoint's bookkeeping done.
    Promise.resolve()
      .then(() => this.owner.hook(step))
      .then(checkOutcome, (error: unknown) => failed(error))
      .then((outcome) => {
        if (!this.aborted) this.owner.outcome(this, outcome);
      });
  }

  /**
   * The exchange ended: stops its clock. With a reason (the connection closed before it ended) it is
   * abandoned as well: its signal aborts and a late answer from the hook is ignored.
   */
  end(abandonedBecause?: unknown): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (abandonedBecause !== undefined && !this.aborted) this.controller.abort(abandonedBecause);
  }
}

function failed(error: unknown): AuthenticationOutcome {
  const message = error instanceof Error ? error.message : String(error);
  return {
    result: 'failure',
    reasonCode: ReasonCode.UnspecifiedError,
    reasonString: `authentication failed: ${message}`,
  };
}

/** A malformed answer from the hook fails the exchange rather than the process. */
function checkOutcome(outcome: unknown): AuthenticationOutcome {
  const result = (outcome as { result?: unknown } | undefined)?.result;
  if (result === 'continue' || result === 'success' || result === 'failure') {
    return outcome as AuthenticationOutcome;
  }
  return failed(new TypeError(`authenticate hook answered ${JSON.stringify(outcome)}`));
}

/** The failure reason code to send: the hook's if it is one (>= 0x80), else 0x87 not authorized. */
export function failureCode(outcome: AuthenticationOutcome & { result: 'failure' }): number {
  const code = outcome.reasonCode;
  return code !== undefined && Number.isInteger(code) && code >= 0x80 && code <= 0xff
    ? code
    : ReasonCode.NotAuthorized;
}
