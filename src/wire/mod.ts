/**
 * Framing and encoding: u32 length-prefixed CBOR frames, checked before decoding.
 * @module
 */
export { assertSendable, MAX_BIGINT_BITS, type SendableOptions } from "./assert_sendable.ts";
export { Codec, type CodecOptions, type DecodeOptions, TAGS } from "./codec.ts";
export {
  encodeFrame,
  type FrameCallback,
  FrameReader,
  type FrameReaderOptions,
  TICK_FRAME,
} from "./frame.ts";
export { Pid } from "./pid.ts";
export { prescan, type PrescanLimits } from "./prescan.ts";
export { Ref } from "./ref.ts";
export { ACCEPTED_TAGS } from "./tags.ts";
