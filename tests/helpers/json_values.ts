/** Any JSON value (strings, integers, null, arrays, objects), small and nested, its strings (keys too) from `str`. */
import fc from "fast-check";

export function jsonValue(str: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      str,
      fc.integer(),
      fc.constant(null),
      fc.array(tie("v"), { maxLength: 3 }),
      fc.dictionary(str, tie("v"), { maxKeys: 3 }),
    ),
  })).v;
}
