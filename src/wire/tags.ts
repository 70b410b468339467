/** CBOR tags Fusion adds to the wire. */
export const TAGS: Readonly<{ pid: 40001; ref: 40002; error: 40003 }> = Object.freeze({
  pid: 40001,
  ref: 40002,
  error: 40003,
});

/**
 * Every CBOR tag a frame may carry, with what it stands for. These are exactly the tags
 * the encoder writes; the pre-scan refuses any other.
 */
export const ACCEPTED_TAGS: ReadonlyMap<number, string> = new Map([
  [1, "Date (epoch seconds)"],
  [2, "bigint >= 2^64 (bytes)"],
  [3, "bigint < -2^64 (bytes)"],
  [68, "Uint8ClampedArray"],
  [69, "Uint16Array (little-endian)"],
  [70, "Uint32Array (little-endian)"],
  [71, "BigUint64Array (little-endian)"],
  [72, "Int8Array"],
  [77, "Int16Array (little-endian)"],
  [78, "Int32Array (little-endian)"],
  [79, "BigInt64Array (little-endian)"],
  [85, "Float32Array (little-endian)"],
  [86, "Float64Array (little-endian)"],
  [258, "Set"],
  [259, "Map"],
  [TAGS.pid, "Pid"],
  [TAGS.ref, "Ref"],
  [TAGS.error, "Error"],
]);
