// The fields of an AMQP flow performative, generated for rhea's `frames.flow` factory: one generator for the
// frame reader, frame-reader stream and lean performative tests, which differ only in how a field is absent.
import fc from 'fast-check';

/**
 * How an optional field is absent. `undefined`: as rhea's own callers leave it (the readers' tests, which
 * compare with what rhea reads of rhea's bytes). `undefined or null`: either, for the encoder's tests, since
 * rhea's factory takes both and the encoder must write each as rhea does.
 */
export type AbsentAs = 'undefined' | 'undefined or null';

export interface FlowFieldsOptions {
  readonly absentAs: AbsentAs;
  /** Values of the boolean fields (drain, echo). Default: booleans. */
  readonly flag?: fc.Arbitrary<unknown>;
}

/** A flow's fields as rhea's factory takes them; the four session fields it requires are always there. */
export type FlowFields = {
  readonly next_incoming_id: number | null | undefined;
  readonly incoming_window: number;
  readonly next_outgoing_id: number;
  readonly outgoing_window: number;
  readonly handle: number | null | undefined;
  readonly delivery_count: number | null | undefined;
  readonly link_credit: number | null | undefined;
  readonly available: number | null | undefined;
  readonly drain: unknown;
  readonly echo: unknown;
};

const uint: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffffffff });

function optional<T>(value: fc.Arbitrary<T>, absentAs: AbsentAs): fc.Arbitrary<T | null | undefined> {
  return absentAs === 'undefined'
    ? fc.option(value, { nil: undefined })
    : fc.oneof(value, fc.constant(undefined), fc.constant(null));
}

export function flowFields(options: FlowFieldsOptions): fc.Arbitrary<FlowFields> {
  const { absentAs, flag = fc.boolean() } = options;
  return fc.record({
    next_incoming_id: optional(uint, absentAs),
    incoming_window: uint,
    next_outgoing_id: uint,
    outgoing_window: uint,
    handle: optional(uint, absentAs),
    delivery_count: optional(uint, absentAs),
    link_credit: optional(uint, absentAs),
    available: optional(uint, absentAs),
    drain: optional(flag, absentAs),
    echo: optional(flag, absentAs),
  });
}
