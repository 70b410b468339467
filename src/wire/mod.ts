/**
 * Framing and encoding: u32 length-prefixed CBOR frames, checked before decoding.
 * @module
 */
export { Codec, type CodecOptions, TAGS } from "./codec.ts";
export { encodeFrame, FrameReader, type FrameReaderOptions, TICK_FRAME } from "./frame.ts";
export { Pid } from "./pid.ts";
export { Ref } from "./ref.ts";
