// The transfer, disposition and flow performatives read by frame-reader.ts, as plain objects. Each field holds
// what rhea's performative getter would return for it: undefined when absent, null when encoded as null, a
// number, boolean (or, for the one-byte boolean encoding, its byte, as rhea reads it) or Buffer otherwise, and
// a disposition's state as rhea's typed value. `dispatch` calls the handler rhea's own performative would.

/** What a performative's `dispatch` calls: rhea's connection. */
export interface FrameHandler {
  on_transfer(frame: ReadFrame): void;
  on_disposition(frame: ReadFrame): void;
  on_flow(frame: ReadFrame): void;
}

export class TransferPerformative {
  handle: number | null | undefined = undefined;
  delivery_id: number | null | undefined = undefined;
  delivery_tag: Buffer | null | undefined = undefined;
  message_format: number | null | undefined = undefined;
  settled: boolean | number | null | undefined = undefined;
  more: boolean | number | null | undefined = undefined;
  rcv_settle_mode: number | null | undefined = undefined;
  state: null | undefined = undefined;
  resume: boolean | number | null | undefined = undefined;
  aborted: boolean | number | null | undefined = undefined;
  batchable: boolean | number | null | undefined = undefined;

  dispatch(handler: FrameHandler, frame: ReadFrame): void {
    handler.on_transfer(frame);
  }
}

export class DispositionPerformative {
  role: boolean | number | null | undefined = undefined;
  first: number | null | undefined = undefined;
  last: number | null | undefined = undefined;
  settled: boolean | number | null | undefined = undefined;
  state: unknown = undefined;
  batchable: boolean | number | null | undefined = undefined;

  dispatch(handler: FrameHandler, frame: ReadFrame): void {
    handler.on_disposition(frame);
  }
}

export class FlowPerformative {
  next_incoming_id: number | null | undefined = undefined;
  incoming_window: number | null | undefined = undefined;
  next_outgoing_id: number | null | undefined = undefined;
  outgoing_window: number | null | undefined = undefined;
  handle: number | null | undefined = undefined;
  delivery_count: number | null | undefined = undefined;
  link_credit: number | null | undefined = undefined;
  available: number | null | undefined = undefined;
  drain: boolean | number | null | undefined = undefined;
  echo: boolean | number | null | undefined = undefined;
  properties: null | undefined = undefined;

  dispatch(handler: FrameHandler, frame: ReadFrame): void {
    handler.on_flow(frame);
  }
}

/** A frame as rhea's frame reader returns it. */
export interface ReadFrame {
  readonly size: number;
  readonly type: number;
  readonly channel: number;
  readonly performative: TransferPerformative | DispositionPerformative | FlowPerformative;
  /** Bytes; in a transfer handed over as an object (message-hand-off.ts), the message object. */
  readonly payload: Buffer | object | undefined;
}
