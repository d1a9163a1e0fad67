import {
  type AmqpErrorInit,
  type CloseInfo,
  type Delivery,
  type MessageId,
  type Receiver,
  SaslError,
  type Sender,
  type SendResult,
} from '@dragoman/amqp';
import type {
  CloseReason,
  InboundPublish,
  InboundSubscribe,
  InboundUnsubscribe,
  MqttEndpoint,
  OutboundMessage,
  PublishCallback,
  PublishOptions,
  PublishOutcome,
  RequestedSubscription,
  UnknownPubrel,
} from '@dragoman/mqtt';
import { type AuthorizationResult, decide, denialOf } from '../authz/decide';
import { isValidTenant, type TenantResolver, TenantScope } from '../authz/tenants';
import type { AuthorizeAction, ClientIdentity } from '../authz/types';
import { PUBLISHER_ID_KEY, REASON_CODE_INFO_KEY } from '../backend/backend';
import { encodeSessionExpiry, withSessionExpiry } from '../mapping/session';
import type { Addresses, DecodedPublish } from '../types';
import type { AmqpLease, ConnectionProvider } from './amqp-lease';
import { ClientDeliveries, type ClientDeliveriesHost } from './client-deliveries';
import { ClientPublishes } from './client-publishes';
import type { ClientRegistry } from './client-registry';
import type { BridgeCodec } from './codec';
import type { ConnectionLossListener } from './connection-loss';
import { withDeadline } from './deadline';
import { BridgeStepError, ReservedTopicError } from './errors';
import type { MessageTally } from './message-tally';
import type { ResolvedBridgeOptions } from './options';
import { PublishLinks, type TopicLink, type TopicLinkKind } from './publish-links';
import { BridgeReasonCode, isSubackFailureCode, subscribeRefusalCode } from './reason-codes';
import { StepSignals } from './step-signals';
import type { TeardownPacer } from './teardown-pacer';
import { OutboundTopicAliases } from './topic-aliases';
import type { BridgeLimit, BridgeState, BridgeStats } from './types';

/** The detach error that tells the Will service to publish the will. */
const DETACH_FORCED: AmqpErrorInit = {
  condition: 'amqp:link:detach-forced',
  description: 'MQTT client went away without DISCONNECT',
};

/** Topic aliasing off (3.1.1, or a client that accepts none): it holds no state, so every such client shares it. */
const NO_ALIASES = new OutboundTopicAliases(undefined);

/** MQTT 5 DISCONNECT reason 0x04: "disconnect with will message". */
const DISCONNECT_WITH_WILL = 0x04;

/** What every bridge of a gateway shares. */
export interface BridgeEnvironment {
  readonly options: ResolvedBridgeOptions;
  readonly codec: BridgeCodec;
  readonly addresses: Addresses;
  readonly registry: ClientRegistry<ClientBridge>;
  readonly connections: ConnectionProvider;
  /** The gateway's message counts. */
  readonly tally: MessageTally;
  /** Spreads a burst of teardowns (a mass disconnect) over turns of the event loop. */
  readonly teardowns: TeardownPacer;
  /** Called once the bridge has released everything. */
  onClosed(bridge: ClientBridge): void;
}

type OpenLink = Sender | Receiver;

/** `openLinks` of a bridge without links (shared). */
const NO_LINKS: ReadonlyArray<OpenLink | string> = [];

/** On the endpoint a `ClientBridge` serves: the endpoint's shared listeners find that bridge here. */
const BRIDGE = Symbol('dragoman.client-bridge');
type BridgedEndpoint = MqttEndpoint & { [BRIDGE]?: ClientBridge };
/** The publish receiver, whose 'close' listener finds its bridge here likewise. */
type BridgedLink = Receiver & { [BRIDGE]?: ClientBridge };

/**
 * One MQTT client's bridge: its MQTT endpoint on one side, its AMQP links (will, subscription service,
 * control, publish, pubrel and topic links) on an AMQP connection on the other, following
 * spec/mqtt-over-amqp.md. Created by the gateway for each accepted CONNECT; ends with the MQTT connection.
 */
export class ClientBridge implements ConnectionLossListener {
  readonly clientId: string;
  /** Who the client is, as the authorization hook sees it. */
  readonly identity: ClientIdentity;
  /** The client id on AMQP: `<tenant>:<client id>` with tenants, else the client id. */
  readonly amqpId: string;
  private readonly scope: TenantScope;
  /** Why the client's tenant could not be derived (the CONNECT is refused). */
  private readonly tenantError: string | undefined;
  private bridgeState: BridgeState = 'connecting';
  /** Signals of the steps under way, aborted when the bridge ends. */
  private readonly steps = new StepSignals();
  /** Made when `released` is first asked for (a takeover, the gateway closing): an idle client holds none. */
  private releasedGate: { promise: Promise<void>; resolve: () => void } | undefined;
  private lease: AmqpLease | undefined;
  private willLink: Sender | undefined;
  private pubrelLink: Promise<Sender> | undefined;
  private deliveries: ClientDeliveries | undefined;
  /** Attaches under way (created on demand and dropped once empty: an idle client holds none). */
  private attaching: Set<Promise<OpenLink>> | undefined;
  /**
   * Every link opened, so teardown finds them all, each followed by the name to give back: [link, name, …].
   * A small array made anew on each change rather than a Map: an idle client holds one or two links, and a
   * Map's table alone is ~150 bytes.
   */
  private openLinks: ReadonlyArray<OpenLink | string> = NO_LINKS;
  /** The error the will link is detached with once the bridge ends (undefined: clean). */
  private willDetachError: AmqpErrorInit | undefined = DETACH_FORCED;
  /** The client → network path, built at the client's first PUBLISH (`publishPath`). */
  private publishLinks: PublishLinks | undefined;
  private publishes: ClientPublishes | undefined;
  private readonly aliases: OutboundTopicAliases;
  private readonly v5: boolean;
  /** Set by `drain()`: the client's socket stays paused, whatever the publish path would resume. */
  private draining = false;
  /**
   * The AMQP-side filters the client's session holds (or has asked for and awaits the answer to); created at
   * the first one.
   */
  private subscribed: Set<string> | undefined;
  /** MQTT 5: the session expiry interval the Subscription service has (AMQP_LIST / AMQP_CLOSE). */
  private sessionExpirySent: number | undefined;

  constructor(
    private readonly endpoint: MqttEndpoint,
    private readonly env: BridgeEnvironment,
  ) {
    this.clientId = endpoint.clientId;
    const resolved = resolveTenant(env.options.tenantOf, endpoint.clientId, endpoint.username);
    this.scope = resolved.scope;
    this.tenantError = resolved.error;
    this.amqpId = this.scope.clientId(endpoint.clientId);
    this.identity = {
      clientId: endpoint.clientId,
      username: endpoint.username,
      ...(this.scope.tenant !== undefined ? { tenant: this.scope.tenant } : {}),
    };
    this.v5 = endpoint.protocolVersion === 5;
    const aliasMaximum =
      this.v5 && env.options.outboundTopicAliases ? endpoint.connectProperties.topicAliasMaximum : undefined;
    this.aliases =
      aliasMaximum === undefined || aliasMaximum < 1 ? NO_ALIASES : new OutboundTopicAliases(aliasMaximum);
  }

  /** The client's publish path: topic links and the PUBLISH queue, built when the client first publishes. */
  private publishPath(): ClientPublishes {
    if (this.publishes !== undefined) return this.publishes;
    const env = this.env;
    const endpoint = this.endpoint;
    const links = new PublishLinks({
      max: env.options.maxPublishLinksPerClient,
      open: (address, kind) => this.openTopicLink(address, kind),
      close: (link) => {
        void this.closeLink(link.sender);
      },
    });
    this.publishes = new ClientPublishes({
      links,
      encode: (publish) => {
        if (publish.topic.startsWith('$mqtt')) throw new ReservedTopicError(publish.topic);
        const encoded = env.codec.publish(publish, this.scope.topic(publish.topic));
        if (isReservedAddress(encoded.address, env.addresses)) throw new ReservedTopicError(encoded.address);
        return encoded;
      },
      ...(env.options.authorize !== undefined
        ? {
            authorize: (publish: InboundPublish) =>
              this.authorize('publish', publish.topic, publish.qos, publish.retain),
          }
        : {}),
      topicLimit: (topic: string) => this.topicLimit(topic, topic),
      resourceLimit: () => this.reportLimit('amqp-resource-limit'),
      negativeAcks: this.v5,
      pause: () => endpoint.pause(),
      resume: () => {
        if (!this.draining) endpoint.resume();
      },
      fail: (reason) => this.serverDisconnect(BridgeReasonCode.UnspecifiedError, reason),
      // The publish path lives as long as the bridge: its signal is only aborted at the end.
      signal: this.steps.open().signal,
      publishReleased: (packetId) => this.sendPubrel(packetId, env.codec.publishReleased(packetId)),
    });
    this.publishLinks = links;
    return this.publishes;
  }

  get state(): BridgeState {
    return this.bridgeState;
  }

  /** Settles once the bridge has ended and detached every link. */
  get released(): Promise<void> {
    if (this.bridgeState === 'closed') return Promise.resolve();
    if (this.releasedGate === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.releasedGate = { promise, resolve };
    }
    return this.releasedGate.promise;
  }

  stats(): BridgeStats {
    return {
      clientId: this.clientId,
      state: this.bridgeState,
      heldDeliveries: this.deliveries?.heldDeliveries ?? 0,
      outstandingCredit: this.deliveries?.outstandingCredit ?? 0,
      publishLinks: this.publishLinks?.size ?? 0,
      queuedPublishes: this.publishes?.queued ?? 0,
      unconfirmedPublishes: this.publishes?.unconfirmed ?? 0,
      paused: this.publishes?.paused ?? false,
      qos2InProgress: this.publishes?.qos2InProgress ?? { held: 0, explicit: 0 },
      qos2ReleasedAtPubrec: this.publishes?.releasedAtPubrec ?? 0,
    };
  }

  /** The most deliveries this client has held at once. */
  get heldHighWater(): number {
    return this.deliveries?.heldHighWater ?? 0;
  }

  /** A newer connection claimed this client id: end this one (MQTT 5: DISCONNECT 0x8E session taken over). */
  takeOver(): void {
    if (this.endpoint.state === 'connected') this.endpoint.disconnect(BridgeReasonCode.SessionTakenOver);
    else if (this.endpoint.state === 'connecting') this.endpoint.destroy();
    else void this.teardown();
  }

  /**
   * First step of a graceful shutdown: stops taking the client's PUBLISHes (`endpoint.pause()`: new packets
   * are parked, never answered, so the client sends them again after reconnecting; its acknowledgements and
   * PUBRELs are still read) and resolves once every PUBLISH already taken has its AMQP outcome and its
   * PUBACK / PUBREC written, or when `signal` aborts (the deadline). Does not end the client: follow with
   * `serverDisconnect()`.
   */
  drain(signal: AbortSignal): Promise<void> {
    this.draining = true;
    // A CONNECT still being bridged is refused (server unavailable): the gateway takes no new clients.
    if (this.endpoint.state === 'connecting') this.serverDisconnect(BridgeReasonCode.ServerUnavailable);
    else if (this.endpoint.state === 'connected') this.endpoint.pause();
    return this.publishes?.whenIdle(signal) ?? Promise.resolve();
  }

  /** Every PUBLISH taken from the client has been answered (see `drain`). */
  get drained(): boolean {
    return this.publishes?.idle ?? true;
  }

  /** Ends the client from the server side (gateway shutting down, AMQP connection lost, …). */
  serverDisconnect(reasonCode: number, reason?: string): void {
    if (this.endpoint.state === 'closed') {
      void this.teardown();
      return;
    }
    if (this.endpoint.state === 'connecting') {
      this.endpoint.reject(BridgeReasonCode.ServerUnavailable);
      return;
    }
    this.endpoint.disconnect(reasonCode, reason !== undefined ? { reasonString: reason } : undefined);
  }

  /**
   * Runs the CONNECT sequence of the spec: will (if any) → AMQP_CLOSE or AMQP_LIST/AMQP_SUBSCRIPTIONS →
   * CONNACK → publish receiver. Never throws: failures become CONNACK codes or a closed connection.
   */
  async start(): Promise<void> {
    const endpoint = this.endpoint;
    // The endpoint's listeners are functions shared by every bridge, which find theirs on the endpoint (six
    // closures and a once() wrapper per client otherwise). An endpoint emits 'close' once.
    (endpoint as BridgedEndpoint)[BRIDGE] = this;
    endpoint.on('close', ClientBridge.onEndpointClosed);
    if (endpoint.state === 'closed') {
      this.onEndpointClose(endpoint.closeReason ?? { kind: 'connection-lost' });
      return;
    }
    // Listeners go first: accept() may hand over packets the client sent right behind its CONNECT.
    endpoint.on('publish', ClientBridge.onEndpointPublish);
    endpoint.on('subscribe', ClientBridge.onEndpointSubscribe);
    endpoint.on('unsubscribe', ClientBridge.onEndpointUnsubscribe);
    endpoint.on('windowOpen', ClientBridge.onEndpointWindowOpen);
    endpoint.on('pubrelUnknown', ClientBridge.onEndpointPubrelUnknown);

    if (this.tenantError !== undefined) {
      endpoint.reject(BridgeReasonCode.NotAuthorized, {
        properties: { reasonString: `no tenant: ${this.tenantError}` },
      });
      this.willDetachError = undefined;
      void this.teardown();
      return;
    }
    let sessionPresent: boolean;
    try {
      sessionPresent = await this.steps.run((signal) => this.connectAmqp(signal));
    } catch (error) {
      if (endpoint.state === 'connecting') {
        endpoint.reject(
          isAuthFailure(error) ? BridgeReasonCode.NotAuthorized : BridgeReasonCode.ServerUnavailable,
          {
            properties: { reasonString: describe(error) },
          },
        );
      }
      // The client never got connected: its will must not be published.
      this.willDetachError = undefined;
      void this.teardown();
      return;
    }
    if (endpoint.state !== 'connecting' || this.steps.ended) return;
    const properties = this.connackProperties();
    this.bridgeState = 'connected';
    endpoint.accept({ sessionPresent, ...(properties !== undefined ? { properties } : {}) });
    if (this.endpoint.state !== 'connected') return;
    try {
      await this.attachPublishReceiver();
    } catch (error) {
      if (!this.steps.ended) {
        this.serverDisconnect(BridgeReasonCode.UnspecifiedError, `publish address: ${describe(error)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connect
  // -------------------------------------------------------------------------------------------

  private async connectAmqp(signal: AbortSignal): Promise<boolean> {
    const endpoint = this.endpoint;
    const { options, addresses, codec } = this.env;
    const deadline = Date.now() + options.connectTimeoutMs;
    const step = <T>(name: string, promise: Promise<T>): Promise<T> =>
      withDeadline(name, promise, Math.max(1, deadline - Date.now()), signal);

    // A previous connection with this client id ends first (its will link has our will link's name).
    await step('take over the client id', this.env.registry.claim(this.amqpId, this));
    const acquiring = this.env.connections.acquire({
      clientId: this.amqpId,
      username: endpoint.username,
      password: endpoint.password,
      keepAliveSeconds: this.keepAliveSeconds(),
      signal,
    });
    // A lease that arrives after the bridge ended (client gone meanwhile) goes straight back.
    acquiring.then(
      (late) => {
        if (this.steps.ended) void late.release();
      },
      () => {},
    );
    const lease = await step('AMQP connection', acquiring);
    this.lease = lease;
    if (lease.loss.lost)
      throw new BridgeStepError('AMQP connection', 'refused', { detail: 'connection lost' });
    lease.loss.on(this);

    const will = endpoint.will;
    if (will !== undefined) {
      const name = this.amqpId;
      if (!lease.names.claimExact(name)) {
        throw new BridgeStepError('attach will link', 'refused', { detail: `link name '${name}' is in use` });
      }
      const link = await step(
        'attach will link',
        this.opened(
          name,
          lease.connection.openSender({
            name,
            target: addresses.willService,
            guarantee: 'at-least-once',
            attachTimeoutMs: options.connectTimeoutMs,
          }),
        ),
      );
      this.willLink = link;
      this.endOnRemoteDetach(link, 'will');
      const scopedWill = { ...will, topic: this.scope.topic(will.topic) };
      await this.expectAccepted('will', step('will', link.send(codec.will(scopedWill))));
    }

    // The connection's subscription-service link, shared by its clients: the requests name the client.
    const ss = lease.requests;
    await step('attach subscription-service link', ss.get());
    // MQTT 5 carries its session expiry interval (x-opt-mqtt-session-expiry); 3.1.1 keeps the spec's meanings.
    const expiry = this.v5 ? this.grantedSessionExpiry() : undefined;
    this.sessionExpirySent = expiry;
    if (endpoint.clean) {
      const close = withSessionExpiry(codec.close(this.amqpId), expiry);
      await this.expectAccepted('close', step('close', ss.send(close, signal)));
      return false;
    }
    const controlName = lease.names.claimDerived(this.amqpId, 'control');
    const control = await step(
      'attach control link',
      this.opened(
        controlName,
        lease.connection.openReceiver({
          name: controlName,
          source: addresses.control(this.amqpId),
          guarantee: 'at-least-once',
          creditWindow: 0,
          maxMessageSize: options.maxMessageSize,
          attachTimeoutMs: options.connectTimeoutMs,
        }),
      ),
    );
    try {
      control.addCredit(1);
      const reply = nextDelivery(control, signal);
      // The service accepts AMQP_LIST only once its AMQP_SUBSCRIPTIONS reply is accepted: take the reply first.
      const listed = step('list', ss.send(withSessionExpiry(codec.list(this.amqpId), expiry), signal));
      listed.catch(() => {});
      const delivery = await step('subscriptions', reply);
      let subscriptions: Map<string, unknown>;
      try {
        subscriptions = codec.subscriptions(delivery.message);
      } catch (error) {
        delivery.reject({ condition: 'amqp:decode-error', description: describe(error) });
        throw new BridgeStepError('subscriptions', 'refused', {
          cause: error,
          detail: 'not AMQP_SUBSCRIPTIONS',
        });
      }
      delivery.accept();
      await this.expectAccepted('list', listed);
      if (subscriptions.size > 0) this.subscribed = new Set(subscriptions.keys());
      return subscriptions.size > 0;
    } finally {
      void this.closeLink(control);
    }
  }

  /**
   * A will link the peer detaches leaves the client without its will: end the client (it reconnects and gets
   * fresh links) rather than carry on half-served. (The shared subscription-service link is attached again for
   * the next request instead.)
   */
  private endOnRemoteDetach(link: Sender, what: string): void {
    link.on('close', (info) => {
      if (!info.remote || this.steps.ended) return;
      const why = info.error ? `: ${info.error.message}` : '';
      this.serverDisconnect(
        BridgeReasonCode.UnspecifiedError,
        `${what} link detached by the AMQP peer${why}`,
      );
    });
  }

  private async expectAccepted(step: string, outcome: Promise<SendResult>): Promise<void> {
    const result = await outcome;
    if (result.state !== 'accepted') {
      throw new BridgeStepError(step, 'refused', {
        outcome: result.state,
        cause: result.state === 'rejected' ? result.error : undefined,
      });
    }
  }

  private async attachPublishReceiver(): Promise<void> {
    const lease = this.lease as AmqpLease;
    const name = lease.names.claimDerived(this.amqpId, 'publish');
    const address = this.env.addresses.publish(this.amqpId);
    const attaching = this.opened(
      name,
      lease.connection.openReceiver({
        name,
        source: address,
        settleModes: { sender: 'mixed', receiver: 'first' },
        creditWindow: 0,
        maxMessageSize: this.env.options.maxMessageSize,
        attachTimeoutMs: this.env.options.connectTimeoutMs,
      }),
    );
    const receiver = await this.steps.run((signal) =>
      withDeadline('attach publish link', attaching, this.env.options.connectTimeoutMs, signal),
    );
    this.deliveries = new ClientDeliveries(receiver, new ClientBridge.DeliveriesHost(this, address));
    // A listener shared by every bridge, which finds its bridge on the receiver (as the endpoint's do).
    (receiver as BridgedLink)[BRIDGE] = this;
    receiver.on('close', ClientBridge.onPublishReceiverClosed);
    this.deliveries.topUp();
  }

  private static readonly onPublishReceiverClosed = function (this: BridgedLink, info: CloseInfo): void {
    const bridge = this[BRIDGE];
    if (bridge === undefined || bridge.steps.ended) return;
    const why = info.error ? `: ${info.error.message}` : '';
    bridge.serverDisconnect(BridgeReasonCode.UnspecifiedError, `publish address detached${why}`);
  };

  private connackProperties(): { serverKeepAlive?: number; sessionExpiryInterval?: number } | undefined {
    if (!this.v5) return undefined;
    const properties: { serverKeepAlive?: number; sessionExpiryInterval?: number } = {};
    const granted = this.keepAliveSeconds();
    if (granted !== this.endpoint.keepAliveSeconds) properties.serverKeepAlive = granted;
    // A capped session expiry interval is announced (MQTT 5 CONNACK); the endpoint then holds that one.
    const expiry = this.grantedSessionExpiry();
    if (expiry !== this.endpoint.sessionExpiryInterval) properties.sessionExpiryInterval = expiry;
    return Object.keys(properties).length > 0 ? properties : undefined;
  }

  /** MQTT 5 session expiry interval in force (CONNECT's, or DISCONNECT's), capped by `maxSessionExpirySeconds`. */
  private grantedSessionExpiry(): number {
    return Math.min(this.endpoint.sessionExpiryInterval, this.env.options.maxSessionExpirySeconds);
  }

  /**
   * MQTT 5 DISCONNECT changed the session expiry interval: AMQP_SESSION_EXPIRY tells the Subscription service,
   * before the publish link detaches (the interval in force then decides). A refusal (a service that does not
   * know the message) or a time-out leaves the session with CONNECT's interval.
   */
  private async sendSessionExpiryUpdate(): Promise<void> {
    const sent = this.sessionExpirySent;
    const requests = this.lease?.requests;
    if (sent === undefined || requests === undefined || this.lease?.loss.lost !== false) return;
    const expiry = this.grantedSessionExpiry();
    if (expiry === sent) return;
    const message = encodeSessionExpiry(this.amqpId, this.env.addresses, expiry);
    await withDeadline(
      'session-expiry',
      requests.send(message),
      this.env.options.stepTimeoutMs,
      new AbortController().signal,
    ).catch(() => {});
  }

  /** Keep-alive granted: the client's, capped by `maxKeepAliveSeconds` (0 = "none" counts as over the cap). */
  private keepAliveSeconds(): number {
    const requested = this.endpoint.keepAliveSeconds;
    const cap = this.env.options.maxKeepAliveSeconds;
    if (cap === 0) return requested;
    return requested === 0 || requested > cap ? cap : requested;
  }

  // -------------------------------------------------------------------------------------------
  // Requests from the client
  // -------------------------------------------------------------------------------------------

  private onPublish(publish: InboundPublish): void {
    this.env.tally.received(publish.qos);
    if (this.bridgeState !== 'connected') return;
    this.publishPath().push(publish);
  }

  private onSubscribe(request: InboundSubscribe): void {
    if (
      this.env.options.authorize === undefined &&
      !request.subscriptions.some(
        (s) =>
          isReservedFilter(s.filter, this.env.addresses) ||
          this.topicLimit(s.topic, s.filter, false) !== undefined,
      )
    ) {
      this.subscribeAllowed(
        request,
        request.subscriptions.map(() => undefined),
      );
      return;
    }
    // Each filter is checked first; only the allowed ones go to the Subscription service.
    void Promise.all(
      request.subscriptions.map(async (s): Promise<number | undefined> => {
        if (isReservedFilter(s.filter, this.env.addresses)) return BridgeReasonCode.NotAuthorized;
        if (this.topicLimit(s.topic, s.filter) !== undefined) return BridgeReasonCode.TopicFilterInvalid;
        const result = await this.authorize('subscribe', s.filter, s.qos, false);
        if (result === undefined || result.allowed) return undefined;
        return isSubackFailureCode(result.reasonCode) ? result.reasonCode : BridgeReasonCode.NotAuthorized;
      }),
    ).then((denied) => {
      if (!this.steps.ended) this.subscribeAllowed(request, denied);
    });
  }

  /**
   * Sends AMQP_SUBSCRIBE for the filters not denied (`denied[i]` undefined) and answers the SUBACK with the
   * service's outcome for those and the denial codes for the others.
   */
  private subscribeAllowed(request: InboundSubscribe, deniedBefore: readonly (number | undefined)[]): void {
    let denied = deniedBefore;
    const fallback = this.env.options.subscribeFailureReasonCode;
    const answer = (allowedCode: (qos: number) => number): void =>
      request.grant(request.subscriptions.map((s, i) => denied[i] ?? allowedCode(s.qos)));
    const refuse = (condition: string | undefined, reasonCode?: unknown): void => {
      unreserve();
      answer(() => subscribeRefusalCode(condition, fallback, reasonCode));
    };
    const scopedOf = (s: RequestedSubscription): string =>
      this.scope.tenant === undefined ? s.topic : this.scope.filter(s.filter, s.group);
    // Quota: new filters beyond maxSubscriptionsPerClient are refused; they are reserved until answered.
    const verdicts = [...denied];
    const reserved: string[] = [];
    request.subscriptions.forEach((s, i) => {
      if (verdicts[i] !== undefined) return;
      const filter = scopedOf(s);
      const subscribed = this.subscribed ?? new Set<string>();
      this.subscribed = subscribed;
      if (subscribed.has(filter)) return;
      if (subscribed.size >= this.env.options.maxSubscriptionsPerClient) {
        verdicts[i] = BridgeReasonCode.QuotaExceeded;
        this.reportLimit('subscriptions-per-client');
        return;
      }
      subscribed.add(filter);
      reserved.push(filter);
    });
    denied = verdicts;
    const unreserve = (): void => {
      for (const filter of reserved) this.subscribed?.delete(filter);
    };
    const allowed = request.subscriptions.filter((_, i) => denied[i] === undefined);
    if (allowed.length === 0) {
      answer(() => BridgeReasonCode.NotAuthorized);
      return;
    }
    const requests = this.lease?.requests;
    if (requests === undefined || this.bridgeState !== 'connected') {
      refuse(undefined);
      return;
    }
    let message: ReturnType<BridgeCodec['subscribe']>;
    try {
      const scoped =
        this.scope.tenant === undefined ? allowed : allowed.map((s) => ({ ...s, topic: scopedOf(s) }));
      message = this.env.codec.subscribe(this.amqpId, request.messageId, scoped, request.properties);
    } catch {
      refuse(undefined);
      return;
    }
    this.steps
      .run((signal) =>
        withDeadline('subscribe', requests.send(message, signal), this.env.options.stepTimeoutMs, signal),
      )
      .then(
        (result) => {
          if (result.state === 'accepted') answer((qos) => qos);
          else if (result.state === 'rejected') {
            refuse(result.error?.condition, result.error?.info?.[REASON_CODE_INFO_KEY]);
          } else refuse(undefined);
        },
        () => {
          if (!this.steps.ended) refuse(undefined);
        },
      );
  }

  /**
   * The limit a topic name or filter breaks (`maxTopicLength` over `text` in UTF-8 bytes, `maxTopicLevels`
   * over `levels`), reported through `onLimit` unless `report` is false; undefined when within both.
   */
  private topicLimit(text: string, levels: string, report = true): BridgeLimit | undefined {
    const { maxTopicLength, maxTopicLevels } = this.env.options;
    let limit: BridgeLimit | undefined;
    if (Buffer.byteLength(text, 'utf8') > maxTopicLength) limit = 'topic-length';
    else if (countLevels(levels, maxTopicLevels) > maxTopicLevels) limit = 'topic-levels';
    if (limit !== undefined && report) this.reportLimit(limit);
    return limit;
  }

  private reportLimit(limit: BridgeLimit): void {
    try {
      this.env.options.onLimit(limit);
    } catch {
      // A failing observer must not change the answer.
    }
  }

  /** Asks the authorization hook (undefined: there is none); reports denials. Never rejects. */
  private authorize(
    action: AuthorizeAction,
    topic: string,
    qos: 0 | 1 | 2,
    retain: boolean,
  ): Promise<AuthorizationResult> | undefined {
    const { authorize, authorizeTimeoutMs, onDenied } = this.env.options;
    if (authorize === undefined) return undefined;
    const request = { identity: this.identity, action, topic, qos, retain };
    return decide(authorize, request, authorizeTimeoutMs).then((result) => {
      if (!result.allowed) {
        try {
          onDenied(denialOf(request, result));
        } catch {
          // A failing observer must not change the answer.
        }
      }
      return result;
    });
  }

  private onUnsubscribe(request: InboundUnsubscribe): void {
    const failed = (): void =>
      request.done(request.unsubscriptions.map(() => BridgeReasonCode.UnspecifiedError));
    const requests = this.lease?.requests;
    if (requests === undefined || this.bridgeState !== 'connected') {
      failed();
      return;
    }
    const filters =
      this.scope.tenant === undefined
        ? request.unsubscriptions
        : request.filters.map((f) => this.scope.filter(f.filter, f.group));
    const message = this.env.codec.unsubscribe(this.amqpId, request.messageId, filters);
    this.steps
      .run((signal) =>
        withDeadline('unsubscribe', requests.send(message, signal), this.env.options.stepTimeoutMs, signal),
      )
      .then(
        (result) => {
          if (result.state === 'accepted') {
            for (const filter of filters) this.subscribed?.delete(filter);
            request.done();
          } else failed();
        },
        () => {
          if (!this.steps.ended) failed();
        },
      );
  }

  // -------------------------------------------------------------------------------------------
  // Links
  // -------------------------------------------------------------------------------------------

  private async openTopicLink(address: string, kind: TopicLinkKind): Promise<TopicLink> {
    const lease = this.lease;
    if (lease === undefined || this.steps.ended) {
      throw new BridgeStepError(`attach ${address}`, 'aborted');
    }
    const name = lease.names.claimDerived(this.amqpId, kind === 'qos2' ? 'topic-qos2' : 'topic');
    const sender = await this.opened(
      name,
      lease.connection.openSender({
        name,
        target: address,
        guarantee: kind === 'qos2' ? 'exactly-once' : 'at-least-once',
        // Names the publisher, so the Subscription service can honour MQTT 5 no-local.
        properties: { [PUBLISHER_ID_KEY]: this.amqpId },
        attachTimeoutMs: this.env.options.stepTimeoutMs,
      }),
    );
    return { sender, address, kind, name };
  }

  /**
   * A PUBREL for a QoS 2 flow of an earlier connection: the backend is told to forget that packet id
   * (AMQP_PUBLISH_RELEASED), then PUBCOMP. A network that does not take the message (no such address) does not
   * hold the client up; a bridge going away answers nothing (the client re-sends PUBREL next time).
   */
  private onUnknownPubrel(release: UnknownPubrel): void {
    const complete = (): void => {
      if (!this.steps.ended) release.complete();
    };
    this.sendPubrel(release.messageId, this.env.codec.publishReleased(release.messageId)).then(
      complete,
      complete,
    );
  }

  /** AMQP_PUBREL for `messageId` on the client's pubrel link (or another message for that address). */
  private sendPubrel(messageId: MessageId, message = this.env.codec.pubrel(messageId)): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) return Promise.reject(new BridgeStepError('pubrel', 'aborted'));
    if (this.pubrelLink === undefined) {
      const name = lease.names.claimDerived(this.amqpId, 'pubrel');
      this.pubrelLink = this.opened(
        name,
        lease.connection.openSender({
          name,
          target: this.env.addresses.pubrel(this.amqpId),
          guarantee: 'at-least-once',
          attachTimeoutMs: this.env.options.stepTimeoutMs,
        }),
      );
      const attaching = this.pubrelLink;
      const forget = (): void => {
        if (this.pubrelLink === attaching) this.pubrelLink = undefined;
      };
      // A pubrel link that failed to attach, or that the peer detached, is attached again next time.
      attaching.then((link) => {
        link.once('close', () => {
          forget();
          this.forgetLink(link);
          lease.names.release(name);
        });
      }, forget);
    }
    return this.pubrelLink.then(async (link) => {
      await this.expectAccepted('pubrel', link.send(message));
    });
  }

  /**
   * Registers a link being opened so teardown closes it, and gives its name back if the attach fails.
   * Attaches are never aborted half-way (no signal): a link detached before the peer's attach arrives leaves
   * the peer's late attach looking like a new link. One that completes after the bridge ended is closed here.
   */
  private opened<L extends OpenLink>(name: string, attaching: Promise<L>): Promise<L> {
    const attached = attaching.then(
      (link) => {
        this.openLinks = [...this.openLinks, link, name];
        // While closing, teardown waits for this attach and closes the link with the others.
        if (this.bridgeState === 'closed') void this.closeLink(link);
        return link;
      },
      (error: unknown) => {
        this.lease?.names.release(name);
        throw error;
      },
    );
    const pending = this.attaching ?? new Set();
    this.attaching = pending;
    pending.add(attached);
    const done = (): void => {
      pending.delete(attached);
      if (pending.size === 0 && this.attaching === pending) this.attaching = undefined;
    };
    attached.then(done, done);
    return attached;
  }

  /** Drops `link` from `openLinks`; returns the name it was opened with (undefined: not there). */
  private forgetLink(link: OpenLink): string | undefined {
    const links = this.openLinks;
    const at = links.indexOf(link);
    if (at === -1) return undefined;
    this.openLinks = links.length === 2 ? NO_LINKS : [...links.slice(0, at), ...links.slice(at + 2)];
    return links[at + 1] as string;
  }

  /** Detaches a link (the will link with the bridge's will error) and gives its name back. */
  private async closeLink(link: OpenLink, error?: AmqpErrorInit): Promise<void> {
    const name = this.forgetLink(link);
    try {
      await link.close(error);
    } catch {
      // Already gone with its connection.
    }
    if (name !== undefined) this.lease?.names.release(name);
  }

  // -------------------------------------------------------------------------------------------
  // Ending
  // -------------------------------------------------------------------------------------------

  /**
   * The publish receiver's view of the client. A class with its methods and the `window` getter on the
   * prototype, reading what it needs from the bridge (one small object per client): an object literal with a
   * getter would be a dictionary-mode object with a closure per hook. Declared here to reach the bridge's
   * private members.
   */
  private static readonly DeliveriesHost = class implements ClientDeliveriesHost {
    constructor(
      private readonly bridge: ClientBridge,
      /** The client's publish address (the link the deliveries arrive on). */
      private readonly address: string,
    ) {}

    get v5(): boolean {
      return this.bridge.v5;
    }

    get aliases(): OutboundTopicAliases {
      return this.bridge.aliases;
    }

    get window(): number {
      return this.bridge.endpoint.window;
    }

    get tally(): MessageTally {
      return this.bridge.env.tally;
    }

    write(message: OutboundMessage, options: PublishOptions, done: PublishCallback | undefined): void {
      this.bridge.endpoint.publishWithCallback(message, options, done);
    }

    publish(message: OutboundMessage, options: PublishOptions): Promise<PublishOutcome | undefined> {
      return this.bridge.endpoint.publish(message, options);
    }

    writeBlocked(): boolean {
      return !this.bridge.endpoint.canPublish;
    }

    decode(delivery: Delivery): DecodedPublish {
      const bridge = this.bridge;
      const scope = bridge.scope;
      const decoded = bridge.env.codec.decodePublish(delivery.message, delivery.presettled, this.address);
      const topic = scope.unscope(decoded.topic);
      if (topic === undefined) throw new Error(`topic '${decoded.topic}' is outside the client's tenant`);
      return topic === decoded.topic ? decoded : { ...decoded, topic };
    }

    pubrel(messageId: MessageId): Promise<void> {
      return this.bridge.sendPubrel(messageId);
    }

    /** Only the packet id goes on the wire: the topic (tenant scope removed) is for pendingPublishes(). */
    resendPubrel(packetId: number, topic: string | undefined): Promise<PublishOutcome> {
      return this.bridge.endpoint.resend({
        messageId: packetId,
        state: 'pubrel',
        message: {
          topic: (topic === undefined ? undefined : this.bridge.scope.unscope(topic)) ?? '',
          payload: '',
          qos: 2,
        },
      });
    }
  };

  // The endpoint's listeners (see `start`), called with the endpoint as `this`.

  private static readonly onEndpointClosed = function (this: BridgedEndpoint, reason: CloseReason): void {
    this[BRIDGE]?.onEndpointClose(reason);
  };

  private static readonly onEndpointPublish = function (
    this: BridgedEndpoint,
    publish: InboundPublish,
  ): void {
    this[BRIDGE]?.onPublish(publish);
  };

  private static readonly onEndpointSubscribe = function (
    this: BridgedEndpoint,
    request: InboundSubscribe,
  ): void {
    this[BRIDGE]?.onSubscribe(request);
  };

  private static readonly onEndpointUnsubscribe = function (
    this: BridgedEndpoint,
    request: InboundUnsubscribe,
  ): void {
    this[BRIDGE]?.onUnsubscribe(request);
  };

  private static readonly onEndpointWindowOpen = function (this: BridgedEndpoint): void {
    this[BRIDGE]?.deliveries?.topUp();
  };

  private static readonly onEndpointPubrelUnknown = function (
    this: BridgedEndpoint,
    release: UnknownPubrel,
  ): void {
    this[BRIDGE]?.onUnknownPubrel(release);
  };

  private onEndpointClose(reason: CloseReason): void {
    // Only a DISCONNECT (other than MQTT 5 "with will message") drops the will; every other end —
    // socket lost, keep-alive expiry, protocol error, takeover, server disconnect — publishes it.
    const clean = reason.kind === 'client-disconnect' && reason.reasonCode !== DISCONNECT_WITH_WILL;
    if (clean || reason.kind === 'rejected') this.willDetachError = undefined;
    void this.teardown();
  }

  /** The client's AMQP connection went (called by its `ConnectionLoss`): the client is ended. */
  connectionLost(): void {
    if (this.bridgeState === 'closing' || this.bridgeState === 'closed') return;
    this.serverDisconnect(BridgeReasonCode.UnspecifiedError, 'AMQP connection lost');
    void this.teardown();
  }

  private async teardown(): Promise<void> {
    if (this.bridgeState === 'closing' || this.bridgeState === 'closed') return;
    this.bridgeState = 'closing';
    this.steps.end(bridgeClosed);
    this.deliveries?.stop();
    // The AMQP side of the end waits for its turn: a mass disconnect's detaches go in batches, not all at once.
    await this.env.teardowns.turn();
    // Links still attaching finish first (bounded by their attach time-out), so that every name is given
    // back before a newcomer with this client id attaches its own.
    await Promise.allSettled([...(this.attaching ?? [])]);
    await this.sendSessionExpiryUpdate();
    this.publishLinks?.closeAll();
    const will = this.willLink;
    if (will !== undefined) {
      if (this.willDetachError === undefined && this.env.options.sendWillClear && will.isOpen) {
        await withDeadline(
          'will-clear',
          will.send(this.env.codec.willClear()),
          this.env.options.stepTimeoutMs,
          new AbortController().signal,
        ).catch(() => {});
      }
      await this.closeLink(will, this.willDetachError);
    }
    const links: OpenLink[] = [];
    for (let at = 0; at < this.openLinks.length; at += 2) links.push(this.openLinks[at] as OpenLink);
    await Promise.allSettled(links.map((link) => this.closeLink(link)));
    // The pooled connection's loss notice is shared by every client on it: do not leave our listener behind.
    this.lease?.loss.off(this);
    await this.lease?.release();
    this.env.registry.release(this.amqpId, this);
    this.bridgeState = 'closed';
    this.releasedGate?.resolve();
    this.env.onClosed(this);
  }
}

/** The reason a bridge's steps under way are aborted with when it ends. */
function bridgeClosed(): Error {
  return new Error('bridge closed');
}

/** Levels of a topic, counted only up to `max + 1` (enough to know it is over). */
function countLevels(topic: string, max: number): number {
  let levels = 1;
  for (let at = topic.indexOf('/'); at !== -1 && levels <= max; at = topic.indexOf('/', at + 1)) levels++;
  return levels;
}

/** The scope of every client without a tenant (shared: a scope holds nothing of its client). */
const NO_TENANT = new TenantScope(undefined);

/** The client's tenant scope; an error (refused CONNECT) when the resolver throws or names no valid tenant. */
function resolveTenant(
  resolver: TenantResolver | undefined,
  clientId: string,
  username: string | undefined,
): { scope: TenantScope; error?: string } {
  if (resolver === undefined) return { scope: NO_TENANT };
  try {
    const tenant = resolver({ clientId, username });
    if (!isValidTenant(tenant)) throw new Error(`invalid tenant name '${String(tenant)}'`);
    return { scope: new TenantScope(tenant) };
  } catch (error) {
    return { scope: NO_TENANT, error: describe(error) };
  }
}

/** The next delivery on a receiver, or a rejection when the signal aborts or the link closes. */
function nextDelivery(receiver: Receiver, signal: AbortSignal): Promise<Delivery> {
  return new Promise<Delivery>((resolve, reject) => {
    const cleanup = (): void => {
      receiver.off('delivery', onDelivery);
      receiver.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onDelivery = (delivery: Delivery): void => {
      cleanup();
      resolve(delivery);
    };
    const onClose = (): void => {
      cleanup();
      reject(new BridgeStepError('subscriptions', 'refused', { detail: 'control link detached' }));
    };
    const onAbort = (): void => {
      cleanup();
      reject(new BridgeStepError('subscriptions', 'aborted'));
    };
    receiver.on('delivery', onDelivery);
    receiver.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The services' addresses and every client's control, publish and pubrel addresses. */
function isReservedAddress(address: string, addresses: Addresses): boolean {
  return (
    address === addresses.willService ||
    address === addresses.subscriptionService ||
    addresses.clientIdFrom('control', address) !== undefined ||
    addresses.clientIdFrom('publish', address) !== undefined ||
    addresses.clientIdFrom('pubrel', address) !== undefined
  );
}

/**
 * Filters no MQTT client may subscribe to: the spec's service and per-client addresses all start with
 * `$mqtt` (a wildcard filter never matches a `$` topic, so only a filter spelled with `$mqtt` reaches them).
 */
function isReservedFilter(filter: string, addresses: Addresses): boolean {
  return filter.startsWith('$mqtt') || isReservedAddress(filter, addresses);
}

function isAuthFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof SaslError) return true;
    if ((current as { condition?: unknown }).condition === 'amqp:unauthorized-access') return true;
    current = current.cause;
  }
  return false;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
