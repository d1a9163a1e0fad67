/**
 * rhea writes every frame into a fresh zero-filled 1 KiB buffer (`types.Writer`), and the generator sends one
 * transfer frame per message: the zero-filling and its garbage were a sixth of the generator's CPU when it
 * publishes over AMQP. The writer fills every byte it hands on (the size field it skips is written last), so
 * the generator lets it take that buffer unzeroed from Node's pool. Every other size rhea asks for stays zeroed.
 */
import { createRequire } from 'node:module';

/** rhea's `lib/util.js`, as far as this module changes it. */
interface RheaUtil {
  allocate_buffer(size: number): Buffer;
}

/** The size of the buffer rhea's frame writer starts with. */
const FRAME_WRITER_START = 1024;

/** Makes the rhea this process loads take its frame writer's start buffer unzeroed. */
export function unzeroedRheaFrameBuffers(): void {
  const util = createRequire(import.meta.url)('rhea/lib/util.js') as RheaUtil;
  const zeroed = util.allocate_buffer.bind(util);
  util.allocate_buffer = (size) => (size === FRAME_WRITER_START ? Buffer.allocUnsafe(size) : zeroed(size));
}
